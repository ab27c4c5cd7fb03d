using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;
using Plumbline.Server.Features.Models;

namespace Plumbline.Server.Features.Arena;

/// <summary>Sets a project's target model for live chat.</summary>
/// <param name="Provider">The provider's name; null or empty turns live chat off.</param>
/// <param name="SystemPrompt">Sent as the system message; annotators never see it.</param>
/// <param name="Field">The chat field to store conversations in (default: the first).</param>
/// <param name="MaxMessages">Most messages per conversation (default 40).</param>
public sealed record ChatSettingsRequest(string? Provider, string? SystemPrompt, string? Field, int? MaxMessages);

/// <summary>A message to the target model.</summary>
public sealed record ChatMessageRequest(string? Message);

/// <summary>Live chat with a target model: settings (managers), new red-team attempts and messages (annotators holding the item).</summary>
public static class LiveChatEndpoints
{
    public static IEndpointRouteBuilder MapLiveChatEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects/{id:long}").WithTags("Live chat").RequireAuthorization();

        api.MapGet("/chat", async (long id, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var schema = ProjectSchema.Parse(await db.Projects.AsNoTracking().Where(p => p.Id == id).Select(p => p.SchemaJson).FirstAsync(ct));
            return Results.Ok(schema.Workflow.Chat);
        }).WithName("GetChatSettings").WithSummary("The project's live-chat target model, system prompt and limits (null when off)")
          .Produces<ChatSettings>();

        api.MapPut("/chat", async (long id, ChatSettingsRequest request, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db,
            ModelProviders providers, TimeProvider clock, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            ChatSettings? chat = null;
            if (!string.IsNullOrWhiteSpace(request.Provider))
            {
                if (await providers.FindAsync(request.Provider.Trim(), ct) is not { } provider)
                {
                    return Problems.BadRequest($"there is no model provider '{request.Provider}'; an admin adds one with `plumbline provider add`");
                }
                chat = new ChatSettings
                {
                    Provider = provider.Name, SystemPrompt = string.IsNullOrWhiteSpace(request.SystemPrompt) ? null : request.SystemPrompt,
                    Field = request.Field, MaxMessages = request.MaxMessages ?? 40,
                };
            }
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            var project = await db.Projects.FirstAsync(p => p.Id == id, ct);
            var schema = ProjectSchema.Parse(project.SchemaJson);
            schema = schema with { Workflow = schema.Workflow with { Chat = chat } };
            if (SchemaValidator.Validate(schema) is { Count: > 0 } errors)
            {
                return Problems.BadRequest(string.Join("; ", errors));
            }
            project.SchemaJson = schema.ToJson();
            // The system prompt stays out of the audit trail's data: it may hold what red-teamers try to extract.
            db.Record(clock, user.Id(), id, "chat.settings", "project", id, new { provider = chat?.Provider, hasSystemPrompt = chat?.SystemPrompt is not null });
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
            return Results.Ok(chat);
        }).WithName("UpdateChatSettings")
          .WithSummary("Choose the target model annotators chat with in conversation and red-team projects (provider null turns it off)")
          .Produces<ChatSettings>();

        api.MapPost("/attempts", async (long id, HttpContext http, ProjectAccess access, LiveChatService chat, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(http.User, id, Roles.Annotator, ct);
            if (denied is not null)
            {
                return denied;
            }
            try
            {
                return Results.Ok(await chat.CreateAttemptAsync(id, http.User.Id(), http.User.Email(), ct));
            }
            catch (LiveChatException ex)
            {
                return ex.ToResult(http);
            }
        }).WithName("CreateRedTeamAttempt")
          .WithSummary("Start a red-team attempt: a new item with an empty conversation, reserved for and leased to the caller")
          .Produces<AttemptDto>();

        api.MapPost("/assignments/{assignmentId:long}/chat", async (long id, long assignmentId, ChatMessageRequest request, HttpContext http,
            ProjectAccess access, LiveChatService chat, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(http.User, id, Roles.Annotator, ct);
            if (denied is not null)
            {
                return denied;
            }
            try
            {
                await chat.StreamAsync(http, id, assignmentId, http.User.Id(), request.Message, ct);
                return Results.Empty;
            }
            catch (LiveChatException ex)
            {
                return ex.ToResult(http);
            }
        }).WithName("SendChatMessage")
          .WithSummary("Send a message to the target model on an item you hold; the answer streams back as NDJSON lines and both turns are stored")
          .WithDescription("Lines: {\"delta\": text} while the model writes, then {\"done\": true, \"messages\": n, \"model\": …} or {\"error\": …}. "
              + "429 when the per-person limit (PLUMBLINE_CHAT_LIMIT_PER_MINUTE, default 20) is reached.");

        // The workspace's form posts (antiforgery-checked, signed-in cookie): same service, same rules.
        var pages = app.MapGroup("/projects/{id:long}/annotate").ExcludeFromDescription().RequireAuthorization();

        pages.MapPost("/attempts", async (long id, IFormCollection form, HttpContext http, ProjectAccess access, LiveChatService chat, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(http.User, id, Roles.Annotator, ct);
            if (denied is not null)
            {
                return denied;
            }
            try
            {
                await chat.CreateAttemptAsync(id, http.User.Id(), http.User.Email(), ct);
                return Results.Redirect($"/projects/{id}/annotate");
            }
            catch (LiveChatException ex)
            {
                return ex.ToResult(http);
            }
        });

        pages.MapPost("/{assignmentId:long}/chat", async (long id, long assignmentId, IFormCollection form, HttpContext http, ProjectAccess access,
            LiveChatService chat, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(http.User, id, Roles.Annotator, ct);
            if (denied is not null)
            {
                return denied;
            }
            try
            {
                await chat.StreamAsync(http, id, assignmentId, http.User.Id(), form["message"].FirstOrDefault(), ct);
                return Results.Empty;
            }
            catch (LiveChatException ex)
            {
                return ex.ToResult(http);
            }
        });

        return app;
    }
}
