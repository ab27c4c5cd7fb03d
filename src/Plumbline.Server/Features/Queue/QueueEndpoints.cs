using System.Security.Claims;
using Microsoft.AspNetCore.Mvc;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Queue;

public static class QueueEndpoints
{
    public static IEndpointRouteBuilder MapQueueEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Queue").RequireAuthorization();

        api.MapPost("/projects/{id:long}/queue/next", async (long id, ClaimsPrincipal user, ProjectAccess access, QueueService queue,
            Data.PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Annotator, ct);
            if (denied is not null)
            {
                return denied;
            }
            var task = await queue.NextAsync(id, user.Id(), ct);
            if (task is null && await Quality.GoldScoring.PauseReasonAsync(db, id, user.Id(), ct) is { } paused)
            {
                return Results.Problem($"you are paused in project {id}: {paused}", statusCode: StatusCodes.Status403Forbidden, title: "Paused");
            }
            return task is null ? Results.NoContent() : Results.Ok(task);
        }).WithName("NextTask").WithSummary("Lease the next item for you (your live lease first); 204 when nothing is left for you, 403 while you are paused")
          .Produces<TaskDto>().Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status403Forbidden);

        api.MapPost("/assignments/{id:long}/submit", (long id, SubmitRequest request, bool? next, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey,
            ClaimsPrincipal user, QueueService queue, CancellationToken ct) =>
            Run(() => queue.SubmitAsync(id, user.Id(), request, next ?? false, ct, idempotencyKey)))
            .WithName("SubmitResponse")
            .WithSummary("Submit answers; resubmitting adds a revision. With ?next=true the answer carries the next task. " +
                "A retry with the same Idempotency-Key header stores nothing new and gets the same response")
            .Produces<SubmitResult>().ProducesValidationProblem();

        api.MapPost("/assignments/{id:long}/skip", (long id, SkipRequest? request, bool? next, ClaimsPrincipal user, QueueService queue, CancellationToken ct) =>
            Run(() => queue.SkipAsync(id, user.Id(), request?.Reason, next ?? false, ct)))
            .WithName("SkipTask").WithSummary("Skip the item, with a reason; you will not be given it again")
            .Produces<SubmitResult>();

        api.MapPost("/assignments/{id:long}/draft", (long id, SubmitRequest request, ClaimsPrincipal user, QueueService queue, CancellationToken ct) =>
            Run(() => queue.DraftAsync(id, user.Id(), request.Values, ct)))
            .WithName("SaveDraft").WithSummary("Save answers in progress and renew the lease")
            .Produces<TaskDto>().ProducesValidationProblem();

        return app;
    }

    private static async Task<IResult> Run<T>(Func<Task<T>> action)
    {
        try
        {
            return Results.Ok(await action());
        }
        catch (QueueException ex) when (ex.Errors is not null)
        {
            return Results.ValidationProblem(ex.Errors.ToDictionary(e => e.Key, e => new[] { e.Value }), detail: ex.Message);
        }
        catch (QueueException ex)
        {
            return Results.Problem(ex.Message, statusCode: ex.Status);
        }
    }
}
