using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;
using Plumbline.Server.Features.Manage;

namespace Plumbline.Server.Features.Arena;

/// <summary>The leaderboard and findings pages: the same reports as the API, rendered on the server for reviewers and managers.</summary>
public static class ArenaPages
{
    public static IEndpointRouteBuilder MapArenaPages(this IEndpointRouteBuilder app)
    {
        var pages = app.MapGroup("/projects/{id:long}").ExcludeFromDescription().RequireAuthorization();

        pages.MapGet("/leaderboard", async Task<IResult> (long id, int? rounds, string? categoryKey, HttpContext http, ProjectAccess access,
            PlumblineDbContext db, IAntiforgery antiforgery, LeaderboardService leaderboard, CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Reviewer, ct, hideForbidden: true);
            if (denied is not null)
            {
                return denied;
            }
            if (ArenaEndpoints.ParseOptions(rounds, null, null) is not { } options)
            {
                return new RazorComponentResult<LeaderboardPage>(new { Page = page, Error = $"Bootstrap rounds must be 1 to {ArenaEndpoints.MaxRounds}." });
            }
            try
            {
                var report = await leaderboard.ComputeAsync(id, null, string.IsNullOrWhiteSpace(categoryKey) ? "category" : categoryKey, options, ct);
                return new RazorComponentResult<LeaderboardPage>(new { Page = page, Report = report });
            }
            catch (LeaderboardException ex)
            {
                return new RazorComponentResult<LeaderboardPage>(new { Page = page, Error = ex.Message });
            }
        });

        pages.MapGet("/redteam", async Task<IResult> (long id, HttpContext http, ProjectAccess access, PlumblineDbContext db, IAntiforgery antiforgery,
            FindingsService findings, CancellationToken ct) =>
        {
            var (page, denied) = await ManageEndpoints.ContextAsync(http, access, db, antiforgery, id, Roles.Reviewer, ct, hideForbidden: true);
            if (denied is not null)
            {
                return denied;
            }
            try
            {
                return new RazorComponentResult<FindingsPage>(new { Page = page, Report = await findings.ComputeAsync(id, 100, ct) });
            }
            catch (LeaderboardException ex)
            {
                return new RazorComponentResult<FindingsPage>(new { Page = page, Error = ex.Message });
            }
        });

        return app;
    }
}
