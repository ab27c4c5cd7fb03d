using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Plumbline.Data;
using Plumbline.Server.Features.Annotate;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Models;

/// <summary>The admin page of model providers.</summary>
public static class ProviderPages
{
    public static IEndpointRouteBuilder MapProviderPages(this IEndpointRouteBuilder app)
    {
        var pages = app.MapGroup("/admin/providers").ExcludeFromDescription();

        pages.MapGet("/", async (HttpContext http, PlumblineDbContext db, IAntiforgery antiforgery, CancellationToken ct) =>
            Denied(http) ?? await PageAsync(http, db, antiforgery, null, null, null, ct));

        pages.MapPost("/{id:long}/test", async (long id, HttpContext http, PlumblineDbContext db, ModelProviders providers, ChatCompletionClient client,
            IAntiforgery antiforgery, CancellationToken ct) =>
        {
            if (Denied(http) is { } denied)
            {
                return denied;
            }
            // The form carries the token; nothing is bound from it, so it is checked here.
            if (!await antiforgery.IsRequestValidAsync(http))
            {
                return Results.Problem("the form's antiforgery token is missing or stale; reload the page", statusCode: StatusCodes.Status400BadRequest);
            }
            try
            {
                var endpoint = await providers.EndpointAsync(id, ct);
                if (endpoint is null)
                {
                    return await PageAsync(http, db, antiforgery, id, null, $"provider {id} does not exist", ct);
                }
                var answer = await client.CompleteAsync(endpoint, new ChatRequest { Messages = [new ChatMessage("user", "Reply with the single word OK.")] }, ct);
                return await PageAsync(http, db, antiforgery, id, new ProviderTestResult(answer.Content, answer.Model, answer.Usage?.PromptTokens,
                    answer.Usage?.CompletionTokens, (long)answer.Latency.TotalMilliseconds, null, answer.Cost, answer.Attempts, null), null, ct);
            }
            catch (ModelProviderException e)
            {
                return await PageAsync(http, db, antiforgery, id, null, e.Message, ct);
            }
        });
        return app;
    }

    /// <summary>Sign-in first; then admins only, with a page that says so.</summary>
    private static IResult? Denied(HttpContext http)
    {
        if (http.User.Identity?.IsAuthenticated != true)
        {
            return Results.Redirect("/login?returnUrl=%2Fadmin%2Fproviders");
        }
        if (http.User.IsAdmin())
        {
            return null;
        }
        http.Response.StatusCode = StatusCodes.Status403Forbidden;
        return new RazorComponentResult<ErrorPage>(new
        {
            Title = "Not allowed", Message = "Model providers are managed by admins.", UserEmail = http.User.Email(),
        });
    }

    private static async Task<IResult> PageAsync(HttpContext http, PlumblineDbContext db, IAntiforgery antiforgery, long? testedId,
        ProviderTestResult? result, string? error, CancellationToken ct)
    {
        var list = (await db.Set<ModelProvider>().AsNoTracking().OrderBy(p => p.Name).ToListAsync(ct)).Select(ProviderDto.From).ToList();
        return new RazorComponentResult<ProvidersPage>(new
        {
            UserEmail = http.User.Email(), AntiforgeryToken = antiforgery.GetAndStoreTokens(http).RequestToken!, Providers = list,
            TestedId = testedId, TestResult = result, TestError = error,
        });
    }
}
