using System.Data.Common;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using NpgsqlTypes;
using Plumbline.Core;
using Plumbline.Core.Import;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Import;

/// <summary>A line of the file that was not imported, and why.</summary>
public sealed record ImportLineError(long Line, string Message);

/// <summary>
/// What an import did. When <see cref="Committed"/> is false nothing of the file was stored, and
/// <see cref="Errors"/> lists the bad lines (the first <see cref="ImportService.MaxListedErrors"/>).
/// </summary>
public sealed record ImportReport(bool Committed, long Created, long Updated, long Unchanged, long Rejected,
    List<ImportLineError> Errors, Dictionary<string, long> Shapes);

/// <summary>
/// Streams a file into a project's items in one transaction: all of it, or nothing. Items are matched by
/// external id, so importing the same file twice changes nothing. Memory is bounded by the batch size.
/// </summary>
public sealed class ImportService(PlumblineDbContext db, TimeProvider clock)
{
    public const int MaxListedErrors = 100;
    private const int BatchSize = 1000;

    public async Task<ImportReport> ImportAsync(long projectId, long userId, Stream input, ImportFormat format, string? fileName, CancellationToken ct)
    {
        var project = await db.Projects.AsNoTracking().FirstAsync(p => p.Id == projectId, ct);
        var schema = ProjectSchema.Parse(project.SchemaJson);
        var errors = new List<ImportLineError>();
        var shapes = new Dictionary<string, long>();
        long created = 0, updated = 0, unchanged = 0, rejected = 0;
        var batch = new List<PendingItem>(BatchSize);

        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var writer = await ItemWriter.CreateAsync(db, tx, ct);
        await foreach (var entry in ImportReader.ReadAsync(input, format, new ImportOptions { FileName = fileName }, ct))
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
            return new ImportReport(false, 0, 0, 0, rejected, errors, shapes);
        }
        if (batch.Count > 0)
        {
            var (c, u, n) = await WriteBatchAsync(projectId, batch, writer, ct);
            created += c; updated += u; unchanged += n;
        }
        await writer.DisposeAsync();
        db.Record(clock, userId, projectId, "items.import", "project", projectId, new { fileName, created, updated, unchanged });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return new ImportReport(true, created, updated, unchanged, 0, errors, shapes);
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
        var ids = latest.Keys.ToList();
        var existing = await db.Items.AsNoTracking().Where(i => i.ProjectId == projectId && ids.Contains(i.ExternalId))
            .Select(i => new { i.Id, i.ExternalId, i.FieldsJson, i.MetadataJson, i.GoldJson }).ToDictionaryAsync(i => i.ExternalId, ct);
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
