using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core;
using Plumbline.Core.Releases;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;

namespace Plumbline.Server.Features.Releases;

/// <summary>
/// Builds releases: reads a project's items and submitted responses in keyset pages, computes each item's
/// consensus, and streams every format into a new numbered folder. Nothing grows with the project but, for a
/// stratified split, each item's stratum.
/// </summary>
public sealed class ReleaseService(PlumblineDbContext db, ReleaseStorage storage, S3Uploader s3, TimeProvider clock, ILogger<ReleaseService> log)
{
    // Small pages: with the reader and the writer on two threads, a page lives until the writer is done with it, and
    // pages of 1,000 items survived gen0 collections often enough to lift the peak RSS to 370-390 MiB at 1,000,000
    // items; at 250 it is the one-loop build's (about 290-300 MiB), at the same CPU per item (docs/benchmarks.md).
    private const int PageSize = 250;
    public const string Queued = "queued";
    public const string Building = "building";
    public const string Ready = "ready";
    public const string Failed = "failed";

    /// <summary>The Plumbline version written into manifests.</summary>
    public static string SoftwareVersion { get; } = "plumbline " + (typeof(ReleaseBuilder).Assembly
        .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0");

    /// <summary>
    /// Queues release v(n+1) of the project for the release worker. Throws <see cref="ReleaseException"/> for settings
    /// that do not fit the project, before anything is stored.
    /// </summary>
    public async Task<Release> QueueAsync(long projectId, long userId, CreateReleaseRequest request, CancellationToken ct)
    {
        var project = await db.Projects.AsNoTracking().FirstAsync(p => p.Id == projectId, ct);
        var (settings, _) = Validate(ProjectSchema.Parse(project.SchemaJson), request);
        var release = await ReserveVersionAsync(projectId, userId, settings, JsonSerializer.Serialize(request, StoredJson.Options), ct);
        db.Record(clock, userId, projectId, "release.queue", "release", release.Version, new { formats = settings.Formats });
        await db.SaveChangesAsync(CancellationToken.None);
        return release;
    }

    /// <summary>Resolves the settings and checks the formats and the S3 target, so a bad request fails before a number is taken.</summary>
    private (ResolvedReleaseSettings Settings, S3Destination? Remote) Validate(ProjectSchema schema, CreateReleaseRequest request)
    {
        var settings = ResolvedReleaseSettings.From(request, schema);
        using (new ReleaseBuilder(schema, settings.Formats, settings.Methods, true, _ => Stream.Null))
        {
        }
        var remote = string.IsNullOrWhiteSpace(request.S3) ? null : S3Destination.Parse(request.S3.Trim());
        if (remote is not null)
        {
            s3.EnsureConfigured();
        }
        return (settings, remote);
    }

    /// <summary>
    /// Builds a release the worker claimed (status <c>building</c>): writes every file into a partial folder, uploads
    /// when asked, then moves the folder into place and marks the release ready. <paramref name="progress"/> is told the
    /// items read so far. A <see cref="ReleaseException"/> or <see cref="ReleaseStorageException"/> says what to change.
    /// </summary>
    public async Task BuildAsync(long releaseId, Action<long> progress, CancellationToken ct)
    {
        var release = await db.Releases().FirstAsync(r => r.Id == releaseId, ct);
        var project = await db.Projects.AsNoTracking().FirstAsync(p => p.Id == release.ProjectId, ct);
        var schema = ProjectSchema.Parse(project.SchemaJson);
        var request = JsonSerializer.Deserialize<CreateReleaseRequest>(release.RequestJson ?? "{}", StoredJson.Options)
            ?? throw new ReleaseException("the release request was not stored; create the release again");
        // The schema may have changed since the request was queued: the settings are resolved again and recorded as used.
        var (settings, remote) = Validate(schema, request);
        release.SettingsJson = settings.ToJson();
        release.Total = await ItemQuery(project, settings, 0).LongCountAsync(ct);
        await db.SaveChangesAsync(ct);

        var folder = storage.FolderOf(project.Id, release.Version);
        RemoveLeftovers(folder);
        var partial = folder + ".partial-" + Guid.NewGuid().ToString("N")[..8];
        long read = 0;
        try
        {
            var manifest = new ReleaseManifest
            {
                ProjectId = project.Id, ProjectName = project.Name, Version = release.Version, Software = SoftwareVersion, Settings = settings.ToNode(),
            };
            await WriteFilesAsync(project, schema, settings, manifest, partial, n =>
            {
                read = n;
                progress(n);
            }, ct);
            var manifestJson = JsonSerializer.Serialize(manifest, ManifestJson.Options);
            await File.WriteAllTextAsync(Path.Combine(partial, "manifest.json"), manifestJson + "\n", new UTF8Encoding(false), ct);
            if (remote is not null)
            {
                // Before the release is published: a failed upload leaves no release behind, locally or remotely listed.
                await s3.UploadAsync(remote, release.Version, partial, manifest.Files.Select(f => f.Path).Append("manifest.json"), ct);
                release.RemoteLocation = remote.ToUri(release.Version);
            }
            if (Directory.Exists(folder))
            {
                // Left by a crash after the move but before the row was marked ready: this number was never published.
                Directory.Delete(folder, recursive: true);
            }
            Directory.Move(partial, folder);

            release.Status = Ready;
            release.ManifestJson = manifestJson;
            release.Items = manifest.Counts.Items;
            release.Progress = read;
            release.FinishedAt = clock.GetUtcNow().UtcDateTime;
            db.Record(clock, release.CreatedById, project.Id, "release.create", "release", release.Version,
                new { formats = settings.Formats, items = manifest.Counts.Items });
            await db.SaveChangesAsync(CancellationToken.None);
        }
        catch
        {
            TryDelete(partial);
            throw;
        }
    }

    /// <summary>Folders of earlier attempts at this version that a crash left behind.</summary>
    private void RemoveLeftovers(string folder)
    {
        var parent = Path.GetDirectoryName(folder)!;
        if (!Directory.Exists(parent))
        {
            return;
        }
        foreach (var dir in Directory.EnumerateDirectories(parent, Path.GetFileName(folder) + ".partial-*"))
        {
            TryDelete(dir);
        }
    }

    /// <summary>Takes the next version number with a row in state <c>queued</c>; the unique index settles races.</summary>
    private async Task<Release> ReserveVersionAsync(long projectId, long userId, ResolvedReleaseSettings settings, string requestJson, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var last = await db.Releases().Where(r => r.ProjectId == projectId).MaxAsync(r => (int?)r.Version, ct) ?? 0;
            var release = new Release
            {
                ProjectId = projectId, Version = last + 1, Status = Queued, SettingsJson = settings.ToJson(), RequestJson = requestJson,
                Location = storage.FolderOf(projectId, last + 1), CreatedById = userId, CreatedAt = clock.GetUtcNow().UtcDateTime,
            };
            db.Releases().Add(release);
            try
            {
                await db.SaveChangesAsync(ct);
                return release;
            }
            catch (DbUpdateException) when (attempt < 10)
            {
                db.Entry(release).State = EntityState.Detached;
            }
        }
    }

    private async Task WriteFilesAsync(Project project, ProjectSchema schema, ResolvedReleaseSettings settings, ReleaseManifest manifest,
        string folder, Action<long> progress, CancellationToken ct)
    {
        Directory.CreateDirectory(folder);
        var annotators = await AnnotatorNamesAsync(project.Id, settings, ct);
        var splits = new SplitAssigner(settings.Seed, settings.Validation, settings.Test);
        var stratified = settings.StratifyBy is null ? null : splits.Stratified(await StrataAsync(project, settings, ct));

        using var builder = new ReleaseBuilder(schema, settings.Formats, settings.Methods, lineage: true, path =>
        {
            var full = ReleaseStorage.Inside(folder, path) ?? throw new InvalidOperationException($"release path '{path}' leaves the release folder");
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            return new FileStream(full, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.SequentialScan);
        });
        var total = System.Diagnostics.Stopwatch.StartNew();
        var noAnswers = settings.OnlyReviewed ? "no accepted or corrected answers" : "no submitted answers";
        var belowConfidence = "consensus confidence below " + settings.MinConfidence.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // Three stages, each on its own task, handing pages on through channels that hold at most one waiting page:
        // reading rows from the database, turning them into items (parse, consensus, split), and writing (formats,
        // hashes, files). With two stages the reader (rows and consensus) was the slower one and the writer waited for it
        // (docs/benchmarks.md, "Releases (issue 6)"); with three, the two cores take whichever stage has work. One writer
        // taking pages in the order they were read keeps the bytes the same as a single pass.
        var rows = Channel.CreateBounded<(List<ItemRow> Rows, int Scanned)>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
        var pages = Channel.CreateBounded<List<Entry>>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var reading = new System.Diagnostics.Stopwatch();
        var building = new System.Diagnostics.Stopwatch();
        var writing = new System.Diagnostics.Stopwatch();

        // A stage that fails stops the others; a stage that ends completes its output so the next one ends too.
        async Task Stage<T>(ChannelWriter<T>? output, Func<Task> body)
        {
            try
            {
                await body();
                output?.Complete();
            }
            catch (Exception ex)
            {
                output?.TryComplete(ex);
                await stop.CancelAsync();
                throw;
            }
        }

        var reader = Task.Run(() => Stage(rows.Writer, async () =>
        {
            reading.Start();
            await foreach (var page in PagesAsync(project, settings, stop.Token))
            {
                reading.Stop();
                await rows.Writer.WriteAsync(page, stop.Token);
                reading.Start();
            }
            reading.Stop();
        }), CancellationToken.None);

        var items = Task.Run(() => Stage(pages.Writer, async () =>
        {
            long read = 0;
            await foreach (var (page, scanned) in rows.Reader.ReadAllAsync(stop.Token))
            {
                building.Start();
                var entries = new List<Entry>(page.Count);
                foreach (var row in page)
                {
                    if (row.Answers.Count == 0)
                    {
                        entries.Add(new Entry(null, noAnswers));
                        continue;
                    }
                    var answers = new List<ReleaseAnswer>(row.Answers.Count);
                    foreach (var a in row.Answers)
                    {
                        answers.Add(new ReleaseAnswer(a.ResponseId, annotators(a.UserId), a.GuidelineVersion, a.ValuesUtf8));
                    }
                    var item = new ReleaseItem
                    {
                        ItemId = row.Id, ExternalId = row.ExternalId, FieldsUtf8 = row.FieldsUtf8, MetadataUtf8 = row.MetadataUtf8, Answers = answers,
                        Split = stratified is null ? splits.Of(row.ExternalId) : stratified.GetValueOrDefault(row.Id, Splits.Train),
                    };
                    try
                    {
                        item.Consensus = ReleaseBuilder.Consensus(schema, settings.Methods, item.FieldsElement, answers, row.Decisions);
                    }
                    catch (JsonException ex)
                    {
                        // Only a database changed outside Plumbline holds such text: say which item, so it can be mended.
                        item.Dispose();
                        throw new ReleaseException($"item {row.Id} ('{row.ExternalId}'): its stored fields or answers are not valid JSON ({ex.Message})");
                    }
                    if (item.Confidence < settings.MinConfidence)
                    {
                        item.Dispose();
                        entries.Add(new Entry(null, belowConfidence));
                    }
                    else
                    {
                        entries.Add(new Entry(item, null));
                    }
                }
                building.Stop();
                await pages.Writer.WriteAsync(entries, stop.Token);
                read += scanned;
                progress(read);
            }
        }), CancellationToken.None);

        var writer = Task.Run(() => Stage<Entry>(null, async () =>
        {
            await foreach (var page in pages.Reader.ReadAllAsync(stop.Token))
            {
                writing.Start();
                foreach (var entry in page)
                {
                    if (entry.Item is { } item)
                    {
                        builder.Add(item);
                        item.Dispose();
                    }
                    else
                    {
                        builder.Skip(entry.Skipped!);
                    }
                }
                writing.Stop();
            }
        }), CancellationToken.None);

        try
        {
            await Task.WhenAll(reader, items, writer);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch
        {
            // The stages stopped because of one failure; the others only saw the cancellation: report the cause.
            var failure = new[] { reader, items, writer }.Select(t => t.Exception?.InnerException).FirstOrDefault(e => e is not null and not OperationCanceledException);
            if (failure is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }
            throw;
        }
        builder.Complete(manifest);
        if (log.IsEnabled(LogLevel.Information))
        {
            log.LogInformation("Release of project {Project}: {Items} items in {Seconds:0.0} s; busy: reading {Reading:0.0} s, items {Building:0.0} s, writing {Writing:0.0} s",
                project.Id, manifest.Counts.Items, total.Elapsed.TotalSeconds, reading.Elapsed.TotalSeconds, building.Elapsed.TotalSeconds, writing.Elapsed.TotalSeconds);
        }
    }

    /// <summary>One item read for the writer: in the release, or left out for a reason.</summary>
    private readonly record struct Entry(ReleaseItem? Item, string? Skipped);

    /// <summary>Pseudonyms under a salt derived from the project's secret and the settings, or e-mail addresses when asked.</summary>
    private async Task<Func<long, string>> AnnotatorNamesAsync(long projectId, ResolvedReleaseSettings settings, CancellationToken ct)
    {
        if (settings.RealAnnotatorIds)
        {
            // Everyone who answered in the project, members or not any more.
            var emails = await db.Users.AsNoTracking()
                .Where(u => db.Responses.Any(r => r.ProjectId == projectId && r.UserId == u.Id))
                .ToDictionaryAsync(u => u.Id, u => u.Email, ct);
            return id => emails.TryGetValue(id, out var e) ? e : "user-" + id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var secret = await db.Set<ReleaseSecret>().AsNoTracking().FirstOrDefaultAsync(s => s.ProjectId == projectId, ct);
        if (secret is null)
        {
            secret = new ReleaseSecret { ProjectId = projectId, Key = RandomNumberGenerator.GetBytes(32) };
            db.Set<ReleaseSecret>().Add(secret);
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateException)
            {
                // Another release of the project created it first: use theirs.
                db.Entry(secret).State = EntityState.Detached;
                secret = await db.Set<ReleaseSecret>().AsNoTracking().FirstAsync(s => s.ProjectId == projectId, ct);
            }
        }
        // Real ids are excluded from the salt's input so the choice cannot be inferred from pseudonyms; the rest of the settings are in.
        var salt = HMACSHA256.HashData(secret.Key, Encoding.UTF8.GetBytes(settings.ToJson()));
        return new Pseudonymizer(salt).Of;
    }

    /// <summary>Each matching item's stratum (the metadata value as text, empty when missing), for a stratified split.</summary>
    private async Task<List<(long, string, string)>> StrataAsync(Project project, ResolvedReleaseSettings settings, CancellationToken ct)
    {
        var result = new List<(long, string, string)>();
        long after = 0;
        while (true)
        {
            var rows = await ItemQuery(project, settings, after).Select(i => new { i.Id, i.ExternalId, i.MetadataJson }).Take(PageSize).ToListAsync(ct);
            if (rows.Count == 0)
            {
                return result;
            }
            after = rows[^1].Id;
            foreach (var row in rows)
            {
                var metadata = JsonNode.Parse(row.MetadataJson) as JsonObject ?? [];
                if (MatchesMetadata(metadata, settings.Metadata))
                {
                    result.Add((row.Id, row.ExternalId, Text(metadata[settings.StratifyBy!]) ?? ""));
                }
            }
        }
    }

    private IQueryable<Item> ItemQuery(Project project, ResolvedReleaseSettings settings, long after)
    {
        var query = db.Items.AsNoTracking().Where(i => i.ProjectId == project.Id && i.Id > after);
        if (settings.Status == ResolvedReleaseSettings.StatusComplete)
        {
            var overlap = project.Overlap;
            query = query.Where(i => i.SubmittedCount >= overlap);
        }
        if (settings.ExcludeGold)
        {
            query = query.Where(i => i.GoldJson == null);
        }
        return query.OrderBy(i => i.Id);
    }

    private sealed record AnswerRow(long ResponseId, long UserId, int GuidelineVersion, byte[] ValuesUtf8);

    private sealed record ItemRow(long Id, string ExternalId, byte[] FieldsUtf8, byte[] MetadataUtf8, List<AnswerRow> Answers,
        Dictionary<string, JsonNode?>? Decisions);

    /// <summary>
    /// Matching items in id order, a page at a time, each with its usable answers in response-id order: submitted,
    /// not rejected by their latest review, a correction's values in place of the original; and the expert decisions
    /// of the page's items. Plain ADO.NET on the context's connection: EF materialisation of four rows per item was a
    /// large share of the build, and the stored JSON text is all the release needs.
    /// </summary>
    private async IAsyncEnumerable<(List<ItemRow> Rows, int Scanned)> PagesAsync(Project project, ResolvedReleaseSettings settings,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var connection = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(ct);
        try
        {
            var itemSql = "SELECT id, external_id, fields_json, metadata_json FROM items WHERE project_id = @project AND id > @after"
                + (settings.Status == ResolvedReleaseSettings.StatusComplete ? " AND submitted_count >= @overlap" : "")
                + (settings.ExcludeGold ? " AND gold_json IS NULL" : "")
                + " ORDER BY id LIMIT " + PageSize.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await using var itemCommand = Command(connection, itemSql, "project", "after", "overlap");
            itemCommand.Parameters[0].Value = project.Id;
            itemCommand.Parameters[2].Value = (long)project.Overlap;
            if (settings.Status != ResolvedReleaseSettings.StatusComplete)
            {
                itemCommand.Parameters.RemoveAt(2);
            }
            // Only the item-id range, so both providers walk the (item_id, user_id) index; a condition on project and
            // status would make SQLite pick the (project_id, status) index and scan the whole project. Ordered by item
            // alone, the index order: sorting each page by response id as well cost SQLite a temporary B-tree per page.
            await using var responseCommand = Command(connection,
                "SELECT id, item_id, user_id, guideline_version, values_json FROM responses WHERE item_id >= @first AND item_id <= @last AND status = 'submitted' ORDER BY item_id",
                "first", "last");
            // CROSS JOIN keeps SQLite on the responses range first (then reviews by response id), whatever the review count.
            await using var reviewCommand = Command(connection,
                "SELECT v.response_id, v.verdict, v.corrected_values_json FROM responses r CROSS JOIN reviews v "
                + "WHERE v.response_id = r.id AND r.item_id >= @first AND r.item_id <= @last ORDER BY v.id",
                "first", "last");
            // Experts' final answers override the consensus, as in QualityService.ItemConsensusAsync; read for the page's id
            // range on the (item_id, question) index.
            await using var decisionCommand = Command(connection,
                "SELECT item_id, question, value_json FROM item_decisions WHERE item_id >= @first AND item_id <= @last", "first", "last");
            var filter = settings.Metadata.Count > 0;
            var items = new List<(long Id, string ExternalId, byte[] Fields, byte[] Metadata)>(PageSize);
            var latest = new Dictionary<long, (string Verdict, string? Corrected)>();
            var decisions = new Dictionary<long, Dictionary<string, JsonNode?>>();
            long after = 0;
            while (true)
            {
                items.Clear();
                itemCommand.Parameters[1].Value = after;
                await using (var reader = await itemCommand.ExecuteReaderAsync(ct))
                {
                    while (await reader.ReadAsync(ct))
                    {
                        items.Add((reader.GetInt64(0), reader.GetString(1), Utf8(reader, 2), Utf8(reader, 3)));
                    }
                }
                if (items.Count == 0)
                {
                    yield break;
                }
                long first = items[0].Id, last = items[^1].Id;
                after = last;
                foreach (var command in new[] { responseCommand, reviewCommand, decisionCommand })
                {
                    command.Parameters[0].Value = first;
                    command.Parameters[1].Value = last;
                }
                // The latest verdict on a response decides.
                latest.Clear();
                await using (var reader = await reviewCommand.ExecuteReaderAsync(ct))
                {
                    while (await reader.ReadAsync(ct))
                    {
                        latest[reader.GetInt64(0)] = (reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2));
                    }
                }
                decisions.Clear();
                await using (var reader = await decisionCommand.ExecuteReaderAsync(ct))
                {
                    while (await reader.ReadAsync(ct))
                    {
                        var itemId = reader.GetInt64(0);
                        if (!decisions.TryGetValue(itemId, out var ofItem))
                        {
                            decisions[itemId] = ofItem = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
                        }
                        ofItem[reader.GetString(1)] = JsonNode.Parse(reader.GetString(2));
                    }
                }
                var page = new List<ItemRow>(items.Count);
                await using (var reader = await responseCommand.ExecuteReaderAsync(ct))
                {
                    // Responses come in item order: one merge pass over the two sorted lists.
                    var hasRow = await reader.ReadAsync(ct);
                    var rowItem = hasRow ? reader.GetInt64(1) : long.MaxValue;
                    foreach (var i in items)
                    {
                        // The item id of the current response row, read once per row.
                        while (hasRow && rowItem < i.Id)
                        {
                            hasRow = await reader.ReadAsync(ct);
                            rowItem = hasRow ? reader.GetInt64(1) : long.MaxValue;
                        }
                        var matches = !filter || MatchesMetadata(JsonNode.Parse(i.Metadata) as JsonObject ?? [], settings.Metadata);
                        var answers = new List<AnswerRow>(3);
                        for (; rowItem == i.Id; rowItem = (hasRow = await reader.ReadAsync(ct)) ? reader.GetInt64(1) : long.MaxValue)
                        {
                            if (!matches)
                            {
                                continue;
                            }
                            var id = reader.GetInt64(0);
                            var reviewed = latest.TryGetValue(id, out var review);
                            if ((reviewed && review.Verdict == "reject") || (settings.OnlyReviewed && !reviewed))
                            {
                                continue;
                            }
                            var values = reviewed && review.Verdict == "correct" && review.Corrected is not null ? Encoding.UTF8.GetBytes(review.Corrected) : Utf8(reader, 4);
                            answers.Add(new AnswerRow(id, reader.GetInt64(2), reader.GetInt32(3), values));
                        }
                        if (matches)
                        {
                            // Rows come in index order (item, then person); an item's answers are used in response order.
                            answers.Sort(static (x, y) => x.ResponseId.CompareTo(y.ResponseId));
                            page.Add(new ItemRow(i.Id, i.ExternalId, i.Fields, i.Metadata, answers, decisions.GetValueOrDefault(i.Id)));
                        }
                    }
                }
                yield return (page, items.Count);
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    /// <summary>
    /// A text column as its UTF-8 bytes, as both drivers hand them over (no UTF-16 string in between, which for the
    /// fields was the largest allocation per item).
    /// </summary>
    private static byte[] Utf8(System.Data.Common.DbDataReader reader, int ordinal) => reader.GetFieldValue<byte[]>(ordinal);

    private static System.Data.Common.DbCommand Command(System.Data.Common.DbConnection connection, string sql, params string[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            var p = command.CreateParameter();
            p.ParameterName = "@" + name;
            p.Value = 0L;
            command.Parameters.Add(p);
        }
        return command;
    }

    private static bool MatchesMetadata(JsonObject metadata, SortedDictionary<string, string> wanted)
    {
        foreach (var (key, value) in wanted)
        {
            if (Text(metadata[key]) != value)
            {
                return false;
            }
        }
        return true;
    }

    private static string? Text(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => node.ToJsonString(),
    };

    private void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (IOException ex)
        {
            log.LogWarning(ex, "Could not remove the unfinished release folder {Folder}", folder);
        }
    }
}

/// <summary>How manifests are written: camelCase, indented, non-ASCII unescaped.</summary>
public static class ManifestJson
{
    public static readonly JsonSerializerOptions Options = new(StoredJson.Options) { WriteIndented = true };
}

/// <summary>Access to the release tables, which live beside this feature rather than on the shared context.</summary>
public static class ReleaseSets
{
    public static DbSet<Release> Releases(this PlumblineDbContext db) => db.Set<Release>();
}
