using System.Globalization;
using System.Security.Claims;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core.Import;
using Plumbline.Core.Preparation;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Import;

/// <summary>A committed import as listed; the full report is at its own address.</summary>
public sealed record ImportRunDto(long Id, string? FileName, DateTime CreatedAt, long Created, long Updated, long Unchanged, long Dropped);

public static class ImportEndpoints
{
    /// <summary>Imports are streamed, so the only limit on a file's size is this one.</summary>
    public const long MaxImportBytes = 20L * 1024 * 1024 * 1024;

    public static IEndpointRouteBuilder MapImportEndpoints(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/projects/{id:long}").WithTags("Import").RequireAuthorization();

        api.MapPost("/import", async (long id, HttpContext http, ClaimsPrincipal user, ProjectAccess access, ImportService import, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var query = http.Request.Query;
            if (!TryParseFormat(query["format"], out var format))
            {
                return Problems.BadRequest($"unknown format '{query["format"]}' (expected auto, jsonl, json or csv)");
            }
            PreparationOptions? preparation;
            try
            {
                preparation = ParsePreparation(query);
            }
            catch (ArgumentException ex)
            {
                return Problems.BadRequest(ex.Message);
            }
            var fileName = (string?)query["fileName"];
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
            if (fileName is { Length: > 500 })
            {
                fileName = fileName[..500];
            }
            var settings = new ImportSettings(format, fileName, preparation, query["dryRun"] == "true");
            var report = await import.ImportAsync(id, user.Id(), body, settings, ct);
            return report.Committed || settings.DryRun && report.Rejected == 0 ? Results.Ok(report) : Results.UnprocessableEntity(report);
        }).WithName("ImportItems")
          .WithSummary("Import items from JSONL, a JSON array or CSV (the body, or a form file); cleaned, all or nothing, idempotent by external_id")
          .WithDescription("""
              The body is the file itself, of any content type (or a multipart form with one file). Query: format=auto|jsonl|json|csv;
              fileName; dryRun=true (report only); prepare=false (store records as they are); pii=redact|flag|off; dedup=near|exact|off;
              nearThreshold=0.8; minLength; maxLength; language=en|de|fr|es|it|pt|nl.
              """)
          .Produces<ImportReport>().Produces<ImportReport>(StatusCodes.Status422UnprocessableEntity);

        api.MapPost("/prepare", async (long id, HttpContext http, ClaimsPrincipal user, ProjectAccess access, PreparationRunService runs, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            PreparationOptions options;
            try
            {
                options = ParsePreparation(http.Request.Query) ?? throw new ArgumentException("prepare=false makes no sense here");
            }
            catch (ArgumentException ex)
            {
                return Problems.BadRequest(ex.Message);
            }
            return Results.Ok(await runs.RunAsync(id, user.Id(), options, http.Request.Query["dryRun"] == "true", ct));
        }).WithName("PrepareProject")
          .WithSummary("Re-run the cleaning rules on the items a project holds; dropped items with responses are only marked, never deleted")
          .WithDescription("Same query settings as import (pii, dedup, nearThreshold, minLength, maxLength, language) and dryRun=true to see what would happen.")
          .Produces<PreparationRunReport>();

        api.MapGet("/imports", async (long id, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            return denied ?? Results.Ok(await db.Set<ImportRun>().AsNoTracking().Where(r => r.ProjectId == id).OrderByDescending(r => r.Id)
                .Select(r => new ImportRunDto(r.Id, r.FileName, r.CreatedAt, r.Created, r.Updated, r.Unchanged, r.Dropped)).ToListAsync(ct));
        }).WithName("ListImports").WithSummary("The project's imports and preparation runs, newest first");

        api.MapGet("/imports/{importId:long}", async (long id, long importId, ClaimsPrincipal user, ProjectAccess access, PlumblineDbContext db, CancellationToken ct) =>
        {
            var (_, denied) = await access.RequireAsync(user, id, Roles.Manager, ct);
            if (denied is not null)
            {
                return denied;
            }
            var report = await db.Set<ImportRun>().AsNoTracking().Where(r => r.ProjectId == id && r.Id == importId).Select(r => r.ReportJson).FirstOrDefaultAsync(ct);
            return report is null ? Problems.NotFound($"import {importId} is not in project {id}") : Results.Text(report, "application/json");
        }).WithName("GetImport").WithSummary("One import's report: counts, preparation rules, examples (masked), duplicate clusters, dropped ids");

        return app;
    }

    public static bool TryParseFormat(string? value, out ImportFormat format)
    {
        format = (value ?? "auto").ToLowerInvariant() switch
        {
            "auto" or "" => ImportFormat.Auto,
            "jsonl" or "ndjson" => ImportFormat.Jsonl,
            "json" => ImportFormat.Json,
            "csv" => ImportFormat.Csv,
            _ => (ImportFormat)(-1),
        };
        return Enum.IsDefined(format);
    }

    /// <summary>Preparation settings from the query string: every rule on unless turned off.</summary>
    public static PreparationOptions? ParsePreparation(IQueryCollection query)
    {
        if (query["prepare"] == "false")
        {
            return null;
        }
        var options = new PreparationOptions();
        switch ((string?)query["pii"])
        {
            case null or "" or "redact":
                break;
            case "flag":
                options = options with { PiiAction = PiiAction.Flag };
                break;
            case "off":
                options = options with { PiiTypes = new HashSet<PiiType>() };
                break;
            default:
                throw new ArgumentException($"pii='{query["pii"]}' is not redact, flag or off");
        }
        options = (string?)query["dedup"] switch
        {
            null or "" or "near" => options,
            "exact" => options with { DropNearDuplicates = false },
            "off" => options with { DropNearDuplicates = false, DropExactDuplicates = false },
            _ => throw new ArgumentException($"dedup='{query["dedup"]}' is not near, exact or off"),
        };
        if (query["nearThreshold"] is { Count: > 0 } threshold)
        {
            options = options with { NearDuplicateThreshold = Number(threshold, "nearThreshold") };
        }
        if (query["minLength"] is { Count: > 0 } min)
        {
            options = options with { MinLength = (int)Number(min, "minLength") };
        }
        if (query["maxLength"] is { Count: > 0 } max)
        {
            options = options with { MaxLength = (int)Number(max, "maxLength") };
        }
        if (query["language"] is { Count: > 0 } language)
        {
            options = options with { DeclaredLanguage = language.ToString() };
        }
        options.Validate();
        return options;
    }

    private static double Number(Microsoft.Extensions.Primitives.StringValues value, string name) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw new ArgumentException($"{name}='{value}' is not a number");
}
