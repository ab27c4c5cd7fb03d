using System.Security.Claims;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Export;

public static class ExportEndpoints
{
    public static IEndpointRouteBuilder MapExportEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/projects/{id:long}/export", async (long id, string? format, HttpContext http, ClaimsPrincipal user,
            ProjectAccess access, ExportService export, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                await denied.ExecuteAsync(http);
                return;
            }
            if (format is not (null or "raw"))
            {
                await Problems.BadRequest($"unknown export format '{format}' (this version exports 'raw')").ExecuteAsync(http);
                return;
            }
            http.Response.ContentType = "application/x-ndjson; charset=utf-8";
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"project-{id}-raw.jsonl\"";
            await export.WriteRawAsync(id, http.Response.BodyWriter, ct);
        }).RequireAuthorization().WithTags("Export").WithName("ExportItems")
          .WithSummary("Stream every item with its responses, their history and reviews, and suggestions, as JSONL")
          .Produces(StatusCodes.Status200OK, contentType: "application/x-ndjson");
        return app;
    }
}
