using System.Globalization;
using System.Security.Claims;
using Plumbline.Server.Features.Auth;
using Plumbline.Server.Features.Quality;

namespace Plumbline.Server.Features.Labellers;

/// <summary>LLM labellers of a project: versions, runs, reports and comparisons. Managers only: reports show gold answers and everyone's agreement.</summary>
public static class LabellerEndpoints
{
    public static IServiceCollection AddLabellers(this IServiceCollection services)
    {
        services.AddScoped<LabellerService>();
        services.AddScoped<LabellerReportService>();
        // Runs are jobs of the shared job runner (registered with the models feature).
        services.AddSingleton<Jobs.IJobHandler, LabellerJobs>();
        return services;
    }

    public static IEndpointRouteBuilder MapLabellerEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects/{id:long}/labellers").WithTags("Labellers").RequireAuthorization();

        api.MapGet("", (long id, ClaimsPrincipal user, ProjectAccess access, LabellerService labellers, CancellationToken ct) =>
            AsManagerAsync(user, access, id, async () => Results.Ok(await labellers.ListAsync(id, ct)), ct))
            .WithName("ListLabellers").WithSummary("The project's LLM labellers with all their versions")
            .Produces<List<LabellerDto>>();

        api.MapPost("", (long id, CreateLabellerRequest request, ClaimsPrincipal user, ProjectAccess access, LabellerService labellers, CancellationToken ct) =>
            AsManagerAsync(user, access, id, async () =>
            {
                var created = await labellers.CreateAsync(id, user.Id(), request, ct);
                return Results.Created($"/api/v1/projects/{id}/labellers/{created.Name}", created);
            }, ct))
            .WithName("CreateLabeller").WithSummary("Create an LLM labeller: a model provider, a prompt template over the item's fields, the questions it answers")
            .Produces<LabellerDto>(StatusCodes.Status201Created);

        api.MapGet("/{labeller}", (long id, string labeller, ClaimsPrincipal user, ProjectAccess access, LabellerService labellers, CancellationToken ct) =>
            AsManagerAsync(user, access, id, async () => Results.Ok(await labellers.GetAsync(id, labeller, ct)), ct))
            .WithName("GetLabeller").WithSummary("One labeller (by name or id) with all its versions")
            .Produces<LabellerDto>();

        api.MapPut("/{labeller}", (long id, string labeller, UpdateLabellerRequest request, ClaimsPrincipal user, ProjectAccess access,
            LabellerService labellers, CancellationToken ct) =>
            AsManagerAsync(user, access, id, async () => Results.Ok(await labellers.UpdateAsync(id, user.Id(), labeller, request, ct)), ct))
            .WithName("UpdateLabeller").WithSummary("Change a labeller: makes a new version (earlier versions are kept for comparison)")
            .Produces<LabellerDto>();

        api.MapPost("/{labeller}/runs", (long id, string labeller, StartLabellerRunRequest? request, ClaimsPrincipal user, ProjectAccess access,
            LabellerService labellers, CancellationToken ct) =>
            AsManagerAsync(user, access, id, async () =>
            {
                var run = await labellers.StartRunAsync(id, user.Id(), labeller, request ?? new StartLabellerRunRequest(), ct);
                return Results.Accepted($"/api/v1/projects/{id}/labellers/runs/{run.Id}", run);
            }, ct))
            .WithName("StartLabellerRun").WithSummary("Run a labeller version over the project's items (or a filter) in the background; answers become suggestions")
            .Produces<LabellerRunDto>(StatusCodes.Status202Accepted);

        api.MapGet("/{labeller}/runs", (long id, string labeller, int? version, ClaimsPrincipal user, ProjectAccess access, LabellerService labellers,
            CancellationToken ct) =>
            AsManagerAsync(user, access, id, async () => Results.Ok(await labellers.RunsAsync(id, await labellers.FindAsync(id, labeller, ct), version, ct)), ct))
            .WithName("ListLabellerRuns").WithSummary("A labeller's runs, newest first (optionally of one version)")
            .Produces<List<LabellerRunDto>>();

        api.MapGet("/runs/{runId:long}", (long id, long runId, ClaimsPrincipal user, ProjectAccess access, LabellerService labellers, CancellationToken ct) =>
            AsManagerAsync(user, access, id, async () => Results.Ok(await labellers.RunAsync(id, runId, ct)), ct))
            .WithName("GetLabellerRun").WithSummary("A run's progress: items done and failed, tokens, cost")
            .Produces<LabellerRunDto>();

        api.MapPost("/runs/{runId:long}/cancel", (long id, long runId, ClaimsPrincipal user, ProjectAccess access, LabellerService labellers, CancellationToken ct) =>
            AsManagerAsync(user, access, id, async () => Results.Ok(await labellers.CancelAsync(id, user.Id(), runId, ct)), ct))
            .WithName("CancelLabellerRun").WithSummary("Stop a queued or running run; what it stored stays")
            .Produces<LabellerRunDto>();

        api.MapGet("/{labeller}/report", (long id, string labeller, int? version, string? method, string? ratingMethod, ClaimsPrincipal user,
            ProjectAccess access, LabellerService labellers, LabellerReportService reports, CancellationToken ct) =>
            AsManagerAsync(user, access, id, async () =>
            {
                var (labelMethod, rating) = Methods(method, ratingMethod);
                var found = await labellers.FindAsync(id, labeller, ct);
                var v = await labellers.VersionAsync(found, version, ct);
                return Results.Ok(await reports.ReportAsync(id, found, v, labelMethod, rating, ct));
            }, ct))
            .WithName("GetLabellerReport")
            .WithSummary("How a labeller version does: agreement with gold and with the human consensus per question, confusion matrices, coverage, failures, cost, tokens, latency, acceptance of its suggestions")
            .WithDescription("Partial while a run is going. version: the current one by default; method and ratingMethod choose the human consensus as in GET …/quality.")
            .Produces<LabellerReport>();

        api.MapGet("/compare", (long id, string? a, string? b, string? method, string? ratingMethod, ClaimsPrincipal user, ProjectAccess access,
            LabellerService labellers, LabellerReportService reports, CancellationToken ct) =>
            AsManagerAsync(user, access, id, async () =>
            {
                if (string.IsNullOrWhiteSpace(a) || string.IsNullOrWhiteSpace(b))
                {
                    return Problems.BadRequest("give two labeller versions: ?a=NAME@VERSION&b=NAME@VERSION (NAME alone is its current version)");
                }
                var (labelMethod, rating) = Methods(method, ratingMethod);
                var first = await ResolveAsync(labellers, id, a, ct);
                var second = await ResolveAsync(labellers, id, b, ct);
                return Results.Ok(await reports.CompareAsync(id, first, second, labelMethod, rating, ct));
            }, ct))
            .WithName("CompareLabellers")
            .WithSummary("Two labeller versions side by side on the items both answered, and how often they agree with each other")
            .WithDescription("a and b: NAME@VERSION, or NAME for its current version (also a labeller id).")
            .Produces<LabellerComparison>();

        app.MapLabellerPages();
        return app;
    }

    private static (string, Core.Quality.ConsensusMethod) Methods(string? method, string? ratingMethod)
    {
        var labelMethod = method ?? QualityMethods.DawidSkene;
        if (!QualityMethods.Label.Contains(labelMethod))
        {
            throw new LabellerException(400, $"method '{method}' is not one of {string.Join(", ", QualityMethods.Label)}");
        }
        return (labelMethod, QualityMethods.ParseRating(ratingMethod)
            ?? throw new LabellerException(400, $"ratingMethod '{ratingMethod}' is not one of {string.Join(", ", QualityMethods.Rating)}"));
    }

    /// <summary>NAME@VERSION (or NAME@vVERSION), or NAME for the current version.</summary>
    private static async Task<(Data.Labeller, Data.LabellerVersion)> ResolveAsync(LabellerService labellers, long projectId, string spec, CancellationToken ct)
    {
        var at = spec.LastIndexOf('@');
        int? version = null;
        var name = spec;
        if (at >= 0)
        {
            name = spec[..at];
            var number = spec[(at + 1)..].TrimStart('v', 'V');
            if (!int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                throw new LabellerException(400, $"'{spec}' is not NAME@VERSION (a whole number after @)");
            }
            version = n;
        }
        var labeller = await labellers.FindAsync(projectId, name, ct);
        return (labeller, await labellers.VersionAsync(labeller, version, ct));
    }

    private static async Task<IResult> AsManagerAsync(ClaimsPrincipal user, ProjectAccess access, long projectId, Func<Task<IResult>> action, CancellationToken ct)
    {
        var (_, denied) = await access.RequireAsync(user, projectId, Roles.Manager, ct);
        if (denied is not null)
        {
            return denied;
        }
        try
        {
            return await action();
        }
        catch (LabellerException ex)
        {
            return Results.Problem(ex.Message, statusCode: ex.Status, title: ex.Status switch
            {
                StatusCodes.Status404NotFound => "Not found",
                StatusCodes.Status409Conflict => "Conflict",
                _ => "Bad request",
            });
        }
    }
}
