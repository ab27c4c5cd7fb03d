using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Plumbline.Data;

namespace Plumbline.Server.Features.Export;

/// <summary>
/// The raw export: one JSON line per item with everything stored about it (fields, metadata, gold, every
/// response with its history and reviews, suggestions). Items are read in keyset pages, so memory stays flat.
/// </summary>
public sealed class ExportService(PlumblineDbContext db)
{
    private const int PageSize = 1000;

    public async Task WriteRawAsync(long projectId, PipeWriter output, CancellationToken ct)
    {
        var emails = await db.Users.AsNoTracking().ToDictionaryAsync(u => u.Id, u => u.Email, ct);
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        long after = 0;
        while (true)
        {
            var items = await db.Items.AsNoTracking().Where(i => i.ProjectId == projectId && i.Id > after)
                .OrderBy(i => i.Id).Take(PageSize).ToListAsync(ct);
            if (items.Count == 0)
            {
                break;
            }
            after = items[^1].Id;
            var ids = items.Select(i => i.Id).ToList();
            var responses = (await db.Responses.AsNoTracking().Where(r => ids.Contains(r.ItemId)).OrderBy(r => r.Id).ToListAsync(ct))
                .ToLookup(r => r.ItemId);
            var responseIds = responses.SelectMany(g => g).Select(r => r.Id).ToList();
            var revisions = (await db.ResponseRevisions.AsNoTracking().Where(r => responseIds.Contains(r.ResponseId))
                .OrderBy(r => r.Revision).ToListAsync(ct)).ToLookup(r => r.ResponseId);
            var reviews = (await db.Reviews.AsNoTracking().Where(r => responseIds.Contains(r.ResponseId))
                .OrderBy(r => r.Id).ToListAsync(ct)).ToLookup(r => r.ResponseId);
            var suggestions = (await db.Suggestions.AsNoTracking().Where(s => ids.Contains(s.ItemId))
                .OrderBy(s => s.Id).ToListAsync(ct)).ToLookup(s => s.ItemId);

            foreach (var item in items)
            {
                json.WriteStartObject();
                json.WriteNumber("id", item.Id);
                json.WriteString("external_id", item.ExternalId);
                json.WritePropertyName("fields");
                json.WriteRawValue(item.FieldsJson, skipInputValidation: true);
                json.WritePropertyName("metadata");
                json.WriteRawValue(item.MetadataJson, skipInputValidation: true);
                if (item.GoldJson is not null)
                {
                    json.WritePropertyName("gold");
                    json.WriteRawValue(item.GoldJson, skipInputValidation: true);
                }
                json.WriteNumber("submitted_count", item.SubmittedCount);
                json.WriteStartArray("responses");
                foreach (var r in responses[item.Id])
                {
                    WriteResponse(json, r, emails, revisions[r.Id], reviews[r.Id]);
                }
                json.WriteEndArray();
                json.WriteStartArray("suggestions");
                foreach (var s in suggestions[item.Id])
                {
                    json.WriteStartObject();
                    json.WriteNumber("id", s.Id);
                    json.WriteString("question", s.Question);
                    json.WritePropertyName("value");
                    json.WriteRawValue(s.ValueJson, skipInputValidation: true);
                    if (s.Score is { } score)
                    {
                        json.WriteNumber("score", score);
                    }
                    json.WriteString("agent", s.Agent);
                    json.WriteString("created_at", Utc(s.CreatedAt));
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteEndObject();
                json.Flush();
                json.Reset();
                output.Write("\n"u8.ToArray());
            }
            await output.FlushAsync(ct);
        }
    }

    private static void WriteResponse(Utf8JsonWriter json, Response r, Dictionary<long, string> emails,
        IEnumerable<ResponseRevision> history, IEnumerable<Review> reviews)
    {
        json.WriteStartObject();
        json.WriteNumber("id", r.Id);
        json.WriteString("user", emails.GetValueOrDefault(r.UserId));
        json.WriteString("status", r.Status);
        json.WritePropertyName("values");
        json.WriteRawValue(r.ValuesJson, skipInputValidation: true);
        json.WriteNumber("revision", r.Revision);
        json.WriteNumber("guideline_version", r.GuidelineVersion);
        if (r.LeadTimeMs is { } lead)
        {
            json.WriteNumber("lead_time_ms", lead);
        }
        if (r.PresentationJson is not null)
        {
            json.WritePropertyName("presentation");
            json.WriteRawValue(r.PresentationJson, skipInputValidation: true);
        }
        if (r.MetadataJson is not null)
        {
            json.WritePropertyName("metadata");
            json.WriteRawValue(r.MetadataJson, skipInputValidation: true);
        }
        if (r.SkipReason is not null)
        {
            json.WriteString("skip_reason", r.SkipReason);
        }
        json.WriteString("created_at", Utc(r.CreatedAt));
        json.WriteString("updated_at", Utc(r.UpdatedAt));
        json.WriteStartArray("history");
        foreach (var rev in history)
        {
            json.WriteStartObject();
            json.WriteNumber("revision", rev.Revision);
            json.WriteString("status", rev.Status);
            json.WritePropertyName("values");
            json.WriteRawValue(rev.ValuesJson, skipInputValidation: true);
            json.WriteString("created_at", Utc(rev.CreatedAt));
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("reviews");
        foreach (var review in reviews)
        {
            json.WriteStartObject();
            json.WriteNumber("id", review.Id);
            json.WriteString("reviewer", emails.GetValueOrDefault(review.ReviewerId));
            json.WriteString("verdict", review.Verdict);
            json.WriteString("comment", review.Comment);
            if (review.CorrectedValuesJson is not null)
            {
                json.WritePropertyName("corrected_values");
                json.WriteRawValue(review.CorrectedValuesJson, skipInputValidation: true);
            }
            json.WriteString("created_at", Utc(review.CreatedAt));
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>SQLite hands times back without a kind; they were stored as UTC.</summary>
    private static string Utc(DateTime value) => DateTime.SpecifyKind(value, DateTimeKind.Utc).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
}
