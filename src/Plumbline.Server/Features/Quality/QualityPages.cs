using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Quality;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;
using Plumbline.Server.Features.Manage;

namespace Plumbline.Server.Features.Quality;

/// <summary>
/// The quality pages of the web UI, for reviewers and managers: the quality report with charts, the review queue and
/// adjudication. Annotators are refused (they never see others' answers). Plain forms that post and redirect, over the
/// same services as the API; a small script adds the keyboard.
/// </summary>
public static class QualityPages
{
    /// <summary>Items needing review listed on the page, least certain first; the API lists every one.</summary>
    public const int ReviewListLength = 100;

    public static IEndpointRouteBuilder MapQualityPages(this IEndpointRouteBuilder app)
    {
        var pages = app.MapGroup("/projects/{id:long}").ExcludeFromDescription().RequireAuthorization();

        pages.MapGet("/quality", async Task<IResult> (long id, string? method, string? ratingMethod, HttpContext http, ProjectAccess access,
            PlumblineDbContext db, IAntiforgery antiforgery, QualityService quality, CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Reviewer, ct);
            if (denied is not null)
            {
                return denied;
            }
            // An unknown method in the address falls back to the default rather than failing: the form only offers valid ones.
            var labelMethod = method is not null && QualityMethods.Label.Contains(method) ? method : QualityMethods.DawidSkene;
            var rating = QualityMethods.ParseRating(ratingMethod) ?? ConsensusMethod.Mean;
            var report = await quality.ComputeAsync(id, labelMethod, rating, ItemListing.NeedsReview, ct);
            var needing = report.Items
                .OrderBy(i => i.Consensus.Where(c => !c.Decided && c.Value is not null).Select(c => c.Confidence).DefaultIfEmpty(1).Min())
                .ThenBy(i => i.ItemId)
                .Take(ReviewListLength).ToList();
            return new RazorComponentResult<QualityPage>(new { Page = page, Report = report, NeedsReview = needing });
        });

        pages.MapGet("/review", async Task<IResult> (long id, long? after, string? done, HttpContext http, ProjectAccess access,
            PlumblineDbContext db, IAntiforgery antiforgery, ReviewService reviews, CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Reviewer, ct);
            var notice = done switch
            {
                "accept" => "Accepted.",
                "reject" => "Rejected: the item went back to its annotator with your comment.",
                "correct" => "Correction saved.",
                _ => null,
            };
            return denied ?? await ReviewPageAsync(db, reviews, page!, http.User.Id(), after ?? 0, notice, null, null, null, ct);
        });

        pages.MapPost("/review/{responseId:long}", async Task<IResult> (long id, long responseId, [FromForm] string? verdict, [FromForm] string? comment,
            [FromForm] string? values, [FromForm] long? after, HttpContext http, ProjectAccess access, PlumblineDbContext db, IAntiforgery antiforgery,
            ReviewService reviews, CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Reviewer, ct);
            if (denied is not null)
            {
                return denied;
            }
            if (await reviews.ProjectOfResponseAsync(responseId, ct) != id)
            {
                http.Response.StatusCode = StatusCodes.Status404NotFound;
                return await ReviewPageAsync(db, reviews, page!, http.User.Id(), after ?? 0, null, $"Response {responseId} is not in this project.", comment, null, ct);
            }
            JsonObject? corrected = null;
            if (verdict == "correct")
            {
                try
                {
                    corrected = JsonNode.Parse(values ?? "") as JsonObject;
                }
                catch (JsonException ex)
                {
                    return await Refused(http, db, reviews, page!, responseId, after, $"The corrected answers are not valid JSON: {ex.Message}", comment, values, ct);
                }
                if (corrected is null)
                {
                    return await Refused(http, db, reviews, page!, responseId, after, "The corrected answers must be a JSON object of question name to answer.", comment, values, ct);
                }
            }
            try
            {
                await reviews.ReviewAsync(responseId, http.User.Id(), new ReviewRequest(verdict, comment, corrected), ct);
            }
            catch (ReviewException ex)
            {
                return await Refused(http, db, reviews, page!, responseId, after, ex.Message, comment, verdict == "correct" ? values : null, ct, ex.Status);
            }
            return Results.Redirect($"/projects/{id}/review?after={after ?? 0}&done={Uri.EscapeDataString(verdict ?? "")}");
        });

        pages.MapGet("/review/adjudicate", async Task<IResult> (long id, long? after, string? decided, HttpContext http, ProjectAccess access,
            PlumblineDbContext db, IAntiforgery antiforgery, ReviewService reviews, CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Reviewer, ct);
            return denied ?? await AdjudicatePageAsync(db, reviews, page!, after ?? 0, decided is null ? null : $"Decided {decided}.", null, ct);
        });

        pages.MapPost("/review/adjudicate/{externalId}", async Task<IResult> (long id, string externalId, [FromForm] string? question,
            [FromForm] string? value, [FromForm] string? comment, [FromForm] long? after, HttpContext http, ProjectAccess access, PlumblineDbContext db,
            IAntiforgery antiforgery, ReviewService reviews, CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Reviewer, ct);
            if (denied is not null)
            {
                return denied;
            }
            string? error;
            try
            {
                var parsed = JsonNode.Parse(value ?? "");
                await reviews.DecideAsync(id, externalId, http.User.Id(), new DecisionRequest(question, parsed, comment), ct);
                return Results.Redirect($"/projects/{id}/review/adjudicate?after={after ?? 0}&decided={Uri.EscapeDataString($"{question} of {externalId}")}");
            }
            catch (JsonException ex)
            {
                http.Response.StatusCode = StatusCodes.Status400BadRequest;
                error = $"The decided value is not valid JSON: {ex.Message}";
            }
            catch (ReviewException ex)
            {
                http.Response.StatusCode = ex.Status;
                error = ex.Message;
            }
            return await AdjudicatePageAsync(db, reviews, page!, after ?? 0, null, error, ct);
        });

        return app;
    }

    private static async Task<IResult> Refused(HttpContext http, PlumblineDbContext db, ReviewService reviews, ProjectPageContext page, long responseId,
        long? after, string error, string? comment, string? values, CancellationToken ct, int status = StatusCodes.Status400BadRequest)
    {
        http.Response.StatusCode = status;
        // Show the same response again (it is still unreviewed), with what the reviewer typed.
        return await ReviewPageAsync(db, reviews, page, http.User.Id(), after ?? 0, null, error, comment, values, ct, responseId);
    }

    private static async Task<IResult> ReviewPageAsync(PlumblineDbContext db, ReviewService reviews, ProjectPageContext page, long userId, long after,
        string? notice, string? error, string? comment, string? values, CancellationToken ct, long? showResponse = null)
    {
        var schema = ProjectSchema.Parse(await db.Projects.AsNoTracking().Where(p => p.Id == page.ProjectId).Select(p => p.SchemaJson).FirstAsync(ct));
        var task = showResponse is { } shown
            ? (await reviews.QueueAsync(page.ProjectId, userId, shown - 1, 1, ct)).FirstOrDefault(t => t.ResponseId == shown)
            : null;
        task ??= (await reviews.QueueAsync(page.ProjectId, userId, after, 1, ct)).FirstOrDefault();
        return new RazorComponentResult<ReviewPage>(new
        {
            Page = page,
            Schema = schema,
            Task = task,
            Mode = schema.Workflow.Quality.ReviewMode,
            After = after,
            Notice = notice,
            Error = error,
            Comment = comment,
            CorrectedJson = values,
        });
    }

    private static async Task<IResult> AdjudicatePageAsync(PlumblineDbContext db, ReviewService reviews, ProjectPageContext page, long after,
        string? notice, string? error, CancellationToken ct)
    {
        var schema = ProjectSchema.Parse(await db.Projects.AsNoTracking().Where(p => p.Id == page.ProjectId).Select(p => p.SchemaJson).FirstAsync(ct));
        var item = (await reviews.AdjudicationAsync(page.ProjectId, after, 1, QualityMethods.DawidSkene, ct)).FirstOrDefault();
        return new RazorComponentResult<AdjudicatePage>(new
        {
            Page = page,
            Schema = schema,
            Item = item,
            Threshold = schema.Workflow.Quality.ReviewBelowConfidence,
            After = after,
            Notice = notice,
            Error = error,
        });
    }
}
