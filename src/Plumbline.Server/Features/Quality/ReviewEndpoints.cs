using System.Security.Claims;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Quality;

/// <summary>Review, adjudication and comment threads.</summary>
public static class ReviewEndpoints
{
    public static IEndpointRouteBuilder MapReviewEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1").WithTags("Review").RequireAuthorization();

        api.MapGet("/projects/{id:long}/reviews/queue", async (long id, long? after, int? limit, ClaimsPrincipal user, ProjectAccess access,
            ReviewService reviews, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Reviewer, ct);
            return denied ?? Results.Ok(await reviews.QueueAsync(id, user.Id(), after ?? 0, Math.Clamp(limit ?? 50, 1, 500), ct));
        }).WithName("ReviewQueue")
          .WithSummary("Submitted responses to review, chosen by the project's review policy (all, percent, per_annotator, below_agreement); page with ?after=LAST_RESPONSE_ID")
          .Produces<List<ReviewTaskDto>>();

        api.MapPost("/responses/{id:long}/review", async (long id, ReviewRequest request, ClaimsPrincipal user, ProjectAccess access,
            ReviewService reviews, CancellationToken ct) =>
        {
            if (await reviews.ProjectOfResponseAsync(id, ct) is not { } project)
            {
                return Problems.NotFound($"response {id} does not exist");
            }
            var (_, denied) = await access.RequireAsync(user, project, Roles.Reviewer, ct);
            return denied ?? await Run(() => reviews.ReviewAsync(id, user.Id(), request, ct));
        }).WithName("ReviewResponse")
          .WithSummary("Accept, reject (comment required; the item goes back to its annotator as rework) or correct (with values) a response")
          .Produces<ReviewDto>();

        api.MapGet("/responses/{id:long}/reviews", async (long id, ClaimsPrincipal user, ProjectAccess access, ReviewService reviews,
            Data.PlumblineDbContext db, CancellationToken ct) =>
        {
            if (await reviews.ProjectOfResponseAsync(id, ct) is not { } project)
            {
                return Problems.NotFound($"response {id} does not exist");
            }
            var (role, denied) = await access.RequireAsync(user, project, Roles.Annotator, ct);
            if (denied is not null)
            {
                return denied;
            }
            // An annotator reads the reviews of their own responses only.
            var userId = user.Id();
            if (Roles.Rank(role!) < Roles.Rank(Roles.Reviewer) && !await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.AnyAsync(db.Responses, r => r.Id == id && r.UserId == userId, ct))
            {
                return Problems.NotFound($"response {id} does not exist");
            }
            return Results.Ok(await reviews.ReviewsOfAsync(id, ct));
        }).WithName("ListReviews").WithSummary("The reviews of a response (annotators: of their own)").Produces<List<ReviewDto>>();

        api.MapGet("/projects/{id:long}/adjudication", async (long id, long? after, int? limit, string? method, ClaimsPrincipal user,
            ProjectAccess access, ReviewService reviews, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Reviewer, ct);
            if (denied is not null)
            {
                return denied;
            }
            var m = method ?? QualityMethods.DawidSkene;
            if (!QualityMethods.Label.Contains(m))
            {
                return Problems.BadRequest($"method '{method}' is not one of {string.Join(", ", QualityMethods.Label)}");
            }
            return Results.Ok(await reviews.AdjudicationAsync(id, after ?? 0, Math.Clamp(limit ?? 50, 1, 500), m, ct));
        }).WithName("AdjudicationQueue")
          .WithSummary("Items whose consensus is under the review threshold and not yet decided, with everyone's answers side by side")
          .Produces<List<AdjudicationItemDto>>();

        api.MapPut("/projects/{id:long}/items/{externalId}/decision", async (long id, string externalId, DecisionRequest request,
            ClaimsPrincipal user, ProjectAccess access, ReviewService reviews, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Reviewer, ct);
            return denied ?? await Run(() => reviews.DecideAsync(id, externalId, user.Id(), request, ct));
        }).WithName("Adjudicate").WithSummary("Set the final answer to one question of an item; it overrides the consensus").Produces<DecisionDto>();

        api.MapGet("/projects/{id:long}/items/{externalId}/comments", async (long id, string externalId, ClaimsPrincipal user,
            ProjectAccess access, ReviewService reviews, CancellationToken ct) =>
        {
            var (role, denied) = await access.RequireAsync(user, id, Roles.Annotator, ct);
            return denied ?? await Run(async () => await reviews.CommentsAsync(await reviews.ThreadItemAsync(id, externalId, user.Id(), role!, ct), ct));
        }).WithName("ListComments").WithSummary("The comment thread of an item (annotators: of items they were given)").Produces<List<CommentDto>>();

        api.MapPost("/projects/{id:long}/items/{externalId}/comments", async (long id, string externalId, CommentRequest request,
            ClaimsPrincipal user, ProjectAccess access, ReviewService reviews, CancellationToken ct) =>
        {
            var (role, denied) = await access.RequireAsync(user, id, Roles.Annotator, ct);
            return denied ?? await Run(async () =>
                await reviews.CommentAsync(id, await reviews.ThreadItemAsync(id, externalId, user.Id(), role!, ct), user.Id(), request.Body, ct));
        }).WithName("AddComment").WithSummary("Add a message to an item's thread").Produces<CommentDto>();

        return app;
    }

    private static async Task<IResult> Run<T>(Func<Task<T>> action)
    {
        try
        {
            return Results.Ok(await action());
        }
        catch (ReviewException ex)
        {
            return Results.Problem(ex.Message, statusCode: ex.Status);
        }
    }
}
