using System.Security.Claims;
using Microsoft.AspNetCore.Http.Features;
using Plumbline.Core.Import;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Import;

public static class ImportEndpoints
{
    /// <summary>Imports are streamed, so the only limit on a file's size is this one.</summary>
    public const long MaxImportBytes = 20L * 1024 * 1024 * 1024;

    public static IEndpointRouteBuilder MapImportEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/projects/{id:long}/import", async (long id, string? format, string? fileName, HttpContext http,
            ClaimsPrincipal user, ProjectAccess access, ImportService import, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            if (!TryParseFormat(format, out var importFormat))
            {
                return Problems.BadRequest($"unknown format '{format}' (expected auto, jsonl, json or csv)");
            }
            http.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize = MaxImportBytes;
            var body = http.Request.Body;
            if (http.Request.HasFormContentType)
            {
                // The web page uploads a form; the CLI and scripts send the file as the body.
                var form = await http.Request.ReadFormAsync(ct);
                var file = form.Files.Count > 0 ? form.Files[0] : null;
                if (file is null)
                {
                    return Problems.BadRequest("the form has no file");
                }
                fileName ??= file.FileName;
                body = file.OpenReadStream();
            }
            var report = await import.ImportAsync(id, user.Id(), body, importFormat, fileName, ct);
            return report.Committed ? Results.Ok(report) : Results.UnprocessableEntity(report);
        }).RequireAuthorization().WithTags("Import").WithName("ImportItems")
          .WithSummary("Import items from JSONL, a JSON array or CSV (the body, or a form file); all or nothing, idempotent by external_id")
          .WithDescription("The body is the file itself, of any content type (or a multipart form with one file); format=auto recognises JSONL, JSON arrays, CSV and gzip.")
          .Produces<ImportReport>().Produces<ImportReport>(StatusCodes.Status422UnprocessableEntity);
        return app;
    }

    public static bool TryParseFormat(string? value, out ImportFormat format)
    {
        format = (value ?? "auto").ToLowerInvariant() switch
        {
            "auto" => ImportFormat.Auto,
            "jsonl" or "ndjson" => ImportFormat.Jsonl,
            "json" => ImportFormat.Json,
            "csv" => ImportFormat.Csv,
            _ => (ImportFormat)(-1),
        };
        return Enum.IsDefined(format);
    }
}
