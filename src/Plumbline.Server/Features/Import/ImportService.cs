using System.Data.Common;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using NpgsqlTypes;
using Plumbline.Core;
using Plumbline.Core.Import;
using Plumbline.Core.Preparation;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Import;

/// <summary>A line of the file that was not imported, and why.</summary>
public sealed record ImportLineError(long Line, string Message);

/// <summary>How to read a file and what to do with it.</summary>
/// <param name="Format">The container format, or Auto to recognise it.</param>
/// <param name="FileName">The file's name, for the report (and recognition by extension).</param>
/// <param name="Preparation">Cleaning rules to apply to every record, or null to store the records as they are.</param>
/// <param name="DryRun">Report what would happen, store nothing.</param>
public sealed record ImportSettings(ImportFormat Format, string? FileName, PreparationOptions? Preparation, bool DryRun);

/// <summary>
/// What an import did. When <see cref="Committed"/> is false nothing of the file was stored: either it was a
/// dry run, or <see cref="Errors"/> lists the bad lines (the first <see cref="ImportService.MaxListedErrors"/>).
/// Records that preparation dropped (duplicates, filters) are counted in <see cref="Dropped"/> and named in
/// <see cref="Preparation"/>.
/// </summary>
public sealed record ImportReport(long? ImportId, bool Committed, bool DryRun, long Created, long Updated, long Unchanged, long Dropped,
    long Rejected, List<ImportLineError> Errors, Dictionary<string, long> Shapes, PreparationReport? Preparation);

/// <summary>
/// Streams a file into a project's items in one transaction: all of it, or nothing. Items are matched by
/// external id, so importing the same file twice changes nothing. Memory is bounded by the batch size.
/// </summary>
public sealed class ImportService(PlumblineDbContext db, TimeProvider clock)
{
    public const int MaxListedErrors = 100;
    private const int BatchSize = 1000;

    public async Task<ImportReport> ImportAsync(long projectId, long userId, Stream input, ImportSettings settings, CancellationToken ct)
    {
        var project = await db.Projects.AsNoTracking().FirstAsync(p => p.Id == projectId, ct);
        var schema = ProjectSchema.Parse(project.SchemaJson);
        var errors = new List<ImportLineError>();
        var shapes = new Dictionary<string, long>();
        long created = 0, updated = 0, unchanged = 0, rejected = 0, dropped = 0;
        var batch = new List<PendingItem>(BatchSize);
        var preparer = settings.Preparation is null ? null : await PreparerForProjectAsync(projectId, settings.Preparation, ct);
        var preparation = preparer is null ? null : new PreparationReport();
        var startedAt = clock.GetUtcNow().UtcDateTime;

        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var writer = await ItemWriter.CreateAsync(db, tx, ct);
        await foreach (var entry in ImportReader.ReadAsync(input, settings.Format, new ImportOptions { FileName = settings.FileName }, ct))
        {
            if (entry.Error is { } error)
            {
                rejected++;
                AddError(errors, error.Line, error.Message);
                continue;
            }
            var record = entry.Record!;
            var problem = FieldMapper.Map(schema, record.Fields);
            if (problem is null && record.ExternalId.Length > 512)
            {
                problem = "external_id is over 512 characters";
            }
            if (problem is not null)
            {
                rejected++;
                AddError(errors, record.Line, problem);
                continue;
            }
            var shape = record.Shape.SourceFormatName();
            shapes[shape] = shapes.GetValueOrDefault(shape) + 1;
            if (preparer is not null && !Prepare(preparer, preparation!, record))
            {
                dropped++;
                continue;
            }
            if (rejected > 0)
            {
                // The file will not be stored: keep reading to report every bad line, but write nothing more.
                continue;
            }
            batch.Add(new PendingItem(record.ExternalId, record.Fields.ToJsonString(StoredJson.Options), record.Metadata.ToJsonString(StoredJson.Options),
                record.Gold?.ToJsonString(StoredJson.Options)));
            if (batch.Count == BatchSize)
            {
                var (c, u, n) = await WriteBatchAsync(projectId, batch, writer, ct);
                created += c; updated += u; unchanged += n;
                batch.Clear();
            }
        }
        if (rejected > 0)
        {
            await tx.RollbackAsync(ct);
            return new ImportReport(null, false, settings.DryRun, 0, 0, 0, dropped, rejected, errors, shapes, preparation);
        }
        if (batch.Count > 0)
        {
            var (c, u, n) = await WriteBatchAsync(projectId, batch, writer, ct);
            created += c; updated += u; unchanged += n;
        }
        await writer.DisposeAsync();
        if (settings.DryRun)
        {
            // The writes ran so the counts are exact (repeats within the file included); none of them stays.
            await tx.RollbackAsync(ct);
            return new ImportReport(null, false, true, created, updated, unchanged, dropped, 0, errors, shapes, preparation);
        }
        await Queue.QueuePlacement.PlaceAsync(db, projectId, schema.Workflow, startedAt, ct);
        var run = new ImportRun
        {
            ProjectId = projectId, UserId = userId, FileName = settings.FileName, CreatedAt = clock.GetUtcNow().UtcDateTime,
            Created = created, Updated = updated, Unchanged = unchanged, Dropped = dropped,
        };
        db.Set<ImportRun>().Add(run);
        await db.SaveChangesAsync(ct);
        var report = new ImportReport(run.Id, true, false, created, updated, unchanged, dropped, 0, errors, shapes, preparation);
        run.ReportJson = JsonSerializer.Serialize(report, StoredJson.Options);
        db.Record(clock, userId, projectId, "items.import", "project", projectId,
            new { importId = run.Id, settings.FileName, created, updated, unchanged, dropped });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return report;
    }

    /// <summary>
    /// Cleans one record in place. Returns false when it is dropped (a filter, or a duplicate of another
    /// record); a record that matches the stored item with its own external id is an update, not a duplicate.
    /// </summary>
    private static bool Prepare(Preparer preparer, PreparationReport report, ImportRecord record)
    {
        var prepared = preparer.Prepare(record.ExternalId, JsonTexts.Flatten(record.Fields));
        if (prepared.Verdict is Verdict.DuplicateOf or Verdict.NearDuplicateOf && prepared.DuplicateOf == record.ExternalId)
        {
            prepared = new PreparedRecord
            {
                RecordId = prepared.RecordId, Verdict = Verdict.Keep, ChangedTexts = prepared.ChangedTexts, PiiFindings = prepared.PiiFindings,
                Hits = [.. prepared.Hits.Where(h => h.Rule is not (PreparationRules.ExactDuplicate or PreparationRules.NearDuplicate))],
                Flags = prepared.Flags,
            };
        }
        report.Add(prepared);
        if (!prepared.IsKept)
        {
            return false;
        }
        foreach (var changed in prepared.ChangedTexts)
        {
            JsonTexts.Replace(record.Fields, changed.Path, changed.Text);
        }
        if (prepared.Flags.Count > 0)
        {
            // Flagged (not redacted) private information waits for a reviewer; metadata never reaches annotators.
            record.Metadata["preparation_flags"] = new JsonArray([.. prepared.Flags.Select(f => (JsonNode)f!)]);
        }
        return true;
    }

    /// <summary>A preparer that knows the project's stored texts, so duplicates of them are found too.</summary>
    private async Task<Preparer> PreparerForProjectAsync(long projectId, PreparationOptions options, CancellationToken ct)
    {
        var preparer = new Preparer(options);
        if (!options.DropExactDuplicates && !options.DropNearDuplicates)
        {
            return preparer;
        }
        long after = 0;
        while (true)
        {
            var page = await db.Items.AsNoTracking().Where(i => i.ProjectId == projectId && i.Id > after).OrderBy(i => i.Id).Take(BatchSize)
                .Select(i => new { i.Id, i.ExternalId, i.FieldsJson }).ToListAsync(ct);
            if (page.Count == 0)
            {
                return preparer;
            }
            foreach (var item in page)
            {
                preparer.AddExisting(item.ExternalId, JsonTexts.Flatten(JsonNode.Parse(item.FieldsJson)!.AsObject()));
            }
            after = page[^1].Id;
        }
    }

    private static void AddError(List<ImportLineError> errors, long line, string message)
    {
        if (errors.Count < MaxListedErrors)
        {
            errors.Add(new ImportLineError(line, message));
        }
    }

    private async Task<(long Created, long Updated, long Unchanged)> WriteBatchAsync(long projectId, List<PendingItem> batch, ItemWriter writer, CancellationToken ct)
    {
        // Later lines win over earlier ones with the same external id.
        var latest = new Dictionary<string, PendingItem>(batch.Count, StringComparer.Ordinal);
        long repeats = 0;
        foreach (var item in batch)
        {
            if (!latest.TryAdd(item.ExternalId, item))
            {
                latest[item.ExternalId] = item;
                repeats++;
            }
        }
        var ids = latest.Keys.ToArray();
        var existing = await (db.IsPostgres
            // A join on the id list probes the (project_id, external_id) index once per id. The plain IN/ANY form
            // lets PostgreSQL, which has no statistics yet on rows this transaction inserted, scan the whole
            // project per batch: measured quadratic (docs/benchmarks.md, Import).
            ? db.Database.SqlQuery<ExistingItem>($"""
                SELECT i.id AS "Id", i.external_id AS "ExternalId", i.fields_json AS "FieldsJson", i.metadata_json AS "MetadataJson", i.gold_json AS "GoldJson"
                FROM unnest({ids}) AS wanted(external_id)
                JOIN items i ON i.project_id = {projectId} AND i.external_id = wanted.external_id
                """)
            : db.Items.AsNoTracking().Where(i => i.ProjectId == projectId && ids.Contains(i.ExternalId))
                .Select(i => new ExistingItem(i.Id, i.ExternalId, i.FieldsJson, i.MetadataJson, i.GoldJson)))
            .ToDictionaryAsync(i => i.ExternalId, ct);
        var now = clock.GetUtcNow().UtcDateTime;
        var inserts = new List<PendingItem>(latest.Count);
        long updated = repeats, unchanged = 0;
        foreach (var item in latest.Values)
        {
            if (!existing.TryGetValue(item.ExternalId, out var old))
            {
                inserts.Add(item);
            }
            else if (old.FieldsJson == item.FieldsJson && old.MetadataJson == item.MetadataJson && old.GoldJson == item.GoldJson)
            {
                unchanged++;
            }
            else
            {
                await db.Items.Where(i => i.Id == old.Id).ExecuteUpdateAsync(s => s
                    .SetProperty(i => i.FieldsJson, item.FieldsJson)
                    .SetProperty(i => i.MetadataJson, item.MetadataJson)
                    .SetProperty(i => i.GoldJson, item.GoldJson)
                    .SetProperty(i => i.UpdatedAt, now), ct);
                updated++;
            }
        }
        await writer.InsertAsync(projectId, inserts, now, ct);
        return (inserts.Count, updated, unchanged);
    }

    private sealed record ExistingItem(long Id, string ExternalId, string FieldsJson, string MetadataJson, string? GoldJson);

    private sealed record PendingItem(string ExternalId, string FieldsJson, string MetadataJson, string? GoldJson);

    /// <summary>Bulk insert of new items: binary COPY on PostgreSQL, one prepared statement on SQLite.</summary>
    private sealed class ItemWriter : IAsyncDisposable
    {
        private readonly DbConnection connection;
        private readonly DbCommand? sqliteInsert;

        private ItemWriter(DbConnection connection, DbCommand? sqliteInsert)
        {
            this.connection = connection;
            this.sqliteInsert = sqliteInsert;
        }

        public static async Task<ItemWriter> CreateAsync(PlumblineDbContext db, IDbContextTransaction tx, CancellationToken ct)
        {
            var connection = db.Database.GetDbConnection();
            if (db.IsPostgres)
            {
                return new ItemWriter(connection, null);
            }
            var command = connection.CreateCommand();
            command.Transaction = tx.GetDbTransaction();
            command.CommandText = """
                INSERT INTO items (project_id, external_id, fields_json, metadata_json, gold_json, submitted_count, created_at, updated_at)
                VALUES ($p, $e, $f, $m, $g, 0, $t, $t)
                """;
            foreach (var name in (ReadOnlySpan<string>)["$p", "$e", "$f", "$m", "$g", "$t"])
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = name;
                command.Parameters.Add(parameter);
            }
            await command.PrepareAsync(ct);
            return new ItemWriter(connection, command);
        }

        public async Task InsertAsync(long projectId, List<PendingItem> items, DateTime now, CancellationToken ct)
        {
            if (items.Count == 0)
            {
                return;
            }
            if (sqliteInsert is { } command)
            {
                foreach (var item in items)
                {
                    command.Parameters[0].Value = projectId;
                    command.Parameters[1].Value = item.ExternalId;
                    command.Parameters[2].Value = item.FieldsJson;
                    command.Parameters[3].Value = item.MetadataJson;
                    command.Parameters[4].Value = (object?)item.GoldJson ?? DBNull.Value;
                    command.Parameters[5].Value = now;
                    await command.ExecuteNonQueryAsync(ct);
                }
                return;
            }
            var npgsql = (NpgsqlConnection)connection;
            await using var copy = await npgsql.BeginBinaryImportAsync(
                "COPY items (project_id, external_id, fields_json, metadata_json, gold_json, submitted_count, created_at, updated_at) FROM STDIN (FORMAT BINARY)", ct);
            foreach (var item in items)
            {
                await copy.StartRowAsync(ct);
                await copy.WriteAsync(projectId, NpgsqlDbType.Bigint, ct);
                await copy.WriteAsync(item.ExternalId, NpgsqlDbType.Varchar, ct);
                await copy.WriteAsync(item.FieldsJson, NpgsqlDbType.Text, ct);
                await copy.WriteAsync(item.MetadataJson, NpgsqlDbType.Text, ct);
                if (item.GoldJson is null)
                {
                    await copy.WriteNullAsync(ct);
                }
                else
                {
                    await copy.WriteAsync(item.GoldJson, NpgsqlDbType.Text, ct);
                }
                await copy.WriteAsync(0, NpgsqlDbType.Integer, ct);
                await copy.WriteAsync(now, NpgsqlDbType.TimestampTz, ct);
                await copy.WriteAsync(now, NpgsqlDbType.TimestampTz, ct);
            }
            await copy.CompleteAsync(ct);
        }

        public async ValueTask DisposeAsync()
        {
            if (sqliteInsert is not null)
            {
                await sqliteInsert.DisposeAsync();
            }
        }
    }
}
