using System.Security.Claims;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Items;

/// <summary>The item browser's API: search a project's items, read one with all its responses. Managers and reviewers only.</summary>
public static class ItemEndpoints
{
    public static IEndpointRouteBuilder MapItemEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects/{id:long}/items").WithTags("Items").RequireAuthorization();

        api.MapGet("", async (long id, string? q, string? metaKey, string? metaValue, string? status, string? annotator, long? after, int? limit,
            ClaimsPrincipal user, ProjectAccess access, ItemBrowser browser, CancellationToken ct) =>
        {
            if (await RequireReviewerAsync(user, access, id, ct) is { } denied)
            {
                return denied;
            }
            try
            {
                return Results.Ok(await browser.SearchAsync(id, new ItemQuery(q, metaKey, metaValue, status, annotator, after, limit ?? 50), ct));
            }
            catch (ItemQueryException ex)
            {
                return Problems.BadRequest(ex.Message);
            }
        }).WithName("SearchItems")
          .WithSummary("Items in id order, filtered by text (q), metadata (metaKey, metaValue), status (none|in_progress|complete) and annotator; keyset pages (after=next)")
          .Produces<ItemListDto>();

        api.MapGet("/{itemId:long}", async (long id, long itemId, ClaimsPrincipal user, ProjectAccess access, ItemBrowser browser, CancellationToken ct) =>
        {
            if (await RequireReviewerAsync(user, access, id, ct) is { } denied)
            {
                return denied;
            }
            return await browser.GetAsync(id, itemId, ct) is { } item ? Results.Ok(item) : Problems.NotFound($"item {itemId} is not in project {id}");
        }).WithName("GetItem").WithSummary("One item: fields, metadata, gold, and every response with its revision count and lead time")
          .Produces<ItemDetailDto>();

        return app;
    }

    /// <summary>
    /// Reviewer or more. Annotators get the same 404 as strangers: items hold gold, metadata and other people's answers,
    /// and an annotator should not learn from the status code that an address is guarded rather than empty.
    /// </summary>
    internal static async Task<IResult?> RequireReviewerAsync(ClaimsPrincipal user, ProjectAccess access, long id, CancellationToken ct)
    {
        var (_, denied) = await access.RequireAsync(user, id, Roles.Reviewer, ct);
        if (denied is Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult { StatusCode: StatusCodes.Status403Forbidden })
        {
            return Problems.NotFound($"project {id} has no item browser for you: it needs the reviewer or manager role");
        }
        return denied;
    }
}
