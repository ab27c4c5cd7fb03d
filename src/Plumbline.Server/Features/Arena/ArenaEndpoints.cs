using System.Security.Claims;
using Plumbline.Core.Quality;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Arena;

/// <summary>Model evaluation from human votes (leaderboard) and red-teaming (findings) over the HTTP API.</summary>
public static class ArenaEndpoints
{
    /// <summary>Most bootstrap rounds a request may ask for: 10,000 rounds over a million votes is already minutes of work.</summary>
    public const int MaxRounds = 10_000;

    public static IEndpointRouteBuilder MapArenaEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects/{id:long}").WithTags("Model evaluation").RequireAuthorization();

        api.MapGet("/leaderboard", async (long id, string? question, string? categoryKey, int? rounds, int? seed, double? confidence,
            ClaimsPrincipal user, ProjectAccess access, LeaderboardService leaderboard, CancellationToken ct) =>
        {
            // Reviewers and managers only: the leaderboard names the models that annotators vote on blind.
            var (_, denied) = await access.RequireAsync(user, id, Roles.Reviewer, ct);
            if (denied is not null)
            {
                return denied;
            }
            if (ParseOptions(rounds, seed, confidence) is not { } options)
            {
                return Problems.BadRequest($"rounds must be 1 to {MaxRounds} and confidence strictly between 0 and 1 (e.g. 0.95)");
            }
            try
            {
                return Results.Ok(await leaderboard.ComputeAsync(id, question, string.IsNullOrWhiteSpace(categoryKey) ? "category" : categoryKey, options, ct));
            }
            catch (LeaderboardException ex)
            {
                return Problems.BadRequest(ex.Message);
            }
        }).WithName("GetLeaderboard")
          .WithSummary("Model leaderboard from the project's human votes: Bradley–Terry ratings on the Elo scale with bootstrap intervals, win-rate matrix, per-category breakdowns")
          .WithDescription("question: the preference question (default: the first); categoryKey: item metadata key of the category (default 'category'); "
              + "rounds: bootstrap rounds (default 1000); seed (default 1); confidence (default 0.95). Ties and 'both bad' count half a win each.")
          .Produces<LeaderboardReport>();

        api.MapGet("/redteam/findings", async (long id, int? limit, ClaimsPrincipal user, ProjectAccess access, FindingsService findings,
            CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Reviewer, ct);
            if (denied is not null)
            {
                return denied;
            }
            if (limit is < 0 or > 10_000)
            {
                return Problems.BadRequest("limit must be 0 to 10000 (findings listed; counts always cover every attempt)");
            }
            try
            {
                return Results.Ok(await findings.ComputeAsync(id, limit ?? 100, ct));
            }
            catch (LeaderboardException ex)
            {
                return Problems.BadRequest(ex.Message);
            }
        }).WithName("GetRedTeamFindings")
          .WithSummary("Red-team findings: successful attacks (partial or full compliance) by harm category and severity, attempts and successes per technique")
          .WithDescription("limit: how many of the most recent successful attacks to list, most severe first (default 100).")
          .Produces<FindingsReport>();

        return app;
    }

    internal static LeaderboardOptions? ParseOptions(int? rounds, int? seed, double? confidence)
    {
        var options = new LeaderboardOptions(rounds ?? 1000, seed ?? 1, confidence ?? 0.95);
        return options.Rounds is < 1 or > MaxRounds || options.Confidence is <= 0 or >= 1 || double.IsNaN(options.Confidence) ? null : options;
    }
}
