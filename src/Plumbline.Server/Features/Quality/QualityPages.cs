using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;
using Plumbline.Core.Quality;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;
using Plumbline.Server.Features.Manage;

namespace Plumbline.Server.Features.Quality;

/// <summary>The quality pages of the web UI, for reviewers and managers; annotators are refused (they never see others' answers).</summary>
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

        return app;
    }
}
