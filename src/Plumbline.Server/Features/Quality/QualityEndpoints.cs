using System.Security.Claims;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Quality;

public static class QualityEndpoints
{
    public static IEndpointRouteBuilder MapQualityEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects/{id:long}").WithTags("Quality").RequireAuthorization();

        api.MapGet("/quality", async (long id, string? method, string? ratingMethod, string? items, ClaimsPrincipal user, ProjectAccess access,
            QualityService quality, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Reviewer, ct);
            if (denied is not null)
            {
                return denied;
            }
            var labelMethod = method ?? QualityMethods.DawidSkene;
            if (!QualityMethods.Label.Contains(labelMethod))
            {
                return Problems.BadRequest($"method '{method}' is not one of {string.Join(", ", QualityMethods.Label)}");
            }
            if (QualityMethods.ParseRating(ratingMethod) is not { } rating)
            {
                return Problems.BadRequest($"ratingMethod '{ratingMethod}' is not one of {string.Join(", ", QualityMethods.Rating)}");
            }
            ItemListing? listing = (items ?? "all") switch
            {
                "all" => ItemListing.All,
                "needs_review" => ItemListing.NeedsReview,
                "none" => ItemListing.None,
                _ => null,
            };
            if (listing is null)
            {
                return Problems.BadRequest($"items '{items}' is not one of all, needs_review, none");
            }
            return Results.Ok(await quality.ComputeAsync(id, labelMethod, rating, listing.Value, ct));
        }).WithName("GetQuality")
          .WithSummary("Agreement per question, a scorecard per annotator and the consensus per item")
          .WithDescription("method: dawid_skene (default), majority, wawa, glad or mace for label and preference questions; ratingMethod: mean (default), median, trimmed_mean or huber; items: all (default), needs_review or none.")
          .Produces<QualityReport>();

        api.MapPost("/annotations/import", async (long id, string? format, HttpContext http, ClaimsPrincipal user, ProjectAccess access,
            AnnotationImportService import, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var f = (format ?? "auto").ToLowerInvariant();
            if (f is not ("auto" or "csv" or "jsonl"))
            {
                return Problems.BadRequest($"unknown format '{format}' (expected auto, csv or jsonl)");
            }
            http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize = Import.ImportEndpoints.MaxImportBytes;
            var report = await import.ImportAsync(id, user.Id(), http.Request.Body, f, ct);
            return report.Committed ? Results.Ok(report) : Results.UnprocessableEntity(report);
        }).WithName("ImportAnnotations")
          .WithSummary("Import labels made elsewhere: rows of item, annotator, question, value (CSV with a header, or JSONL); all or nothing, idempotent")
          .WithDescription("Rows of one item and annotator form one submitted response. An annotator that is an existing user's e-mail is that user; any other id becomes an inactive account <id>@annotators.invalid. Optional columns: turn (per-turn questions), lead_time_ms.")
          .Produces<AnnotationImportReport>().Produces<AnnotationImportReport>(StatusCodes.Status422UnprocessableEntity);

        return app;
    }
}
