using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;
using Plumbline.Server.Features.Import;

namespace Plumbline.Server.Features.Quality;

/// <summary>What an annotations import did; when <see cref="Committed"/> is false nothing was stored.</summary>
/// <param name="Committed">Whether the file was stored.</param>
/// <param name="Rows">Data rows read.</param>
/// <param name="Created">Responses created.</param>
/// <param name="Updated">Responses whose values changed.</param>
/// <param name="Unchanged">Responses already stored with the same values.</param>
/// <param name="AnnotatorsCreated">Imported annotators created (inactive accounts under annotators.invalid).</param>
/// <param name="Errors">Bad rows (the first 100), with their line numbers.</param>
public sealed record AnnotationImportReport(bool Committed, long Rows, int Created, int Updated, int Unchanged, int AnnotatorsCreated, List<ImportLineError> Errors);

/// <summary>
/// Imports labels made elsewhere as submitted responses: rows of (item external id, annotator, question, value),
/// in CSV with a header or JSON Lines. Rows of one item and annotator form one response. An annotator that is
/// the e-mail of an existing user is that user; any other becomes an inactive account that cannot sign in.
/// All or nothing; importing the same file again changes nothing.
/// </summary>
public sealed class AnnotationImportService(PlumblineDbContext db, TimeProvider clock)
{
    public const string PseudoDomain = "annotators.invalid";
    private const int MaxErrors = ImportService.MaxListedErrors;
    private const int Batch = 1000;

    private static readonly string[] ItemKeys = ["item", "external_id", "item_id", "id"];
    private static readonly string[] AnnotatorKeys = ["annotator", "annotator_id", "worker", "worker_id", "user", "email"];

    private sealed class Pending(string item, string annotator, long line)
    {
        public string Item { get; } = item;
        public string Annotator { get; } = annotator;
        public long Line { get; } = line;
        public JsonObject Values { get; } = [];
        public Dictionary<string, long> LineOf { get; } = [];
        public long? LeadTimeMs { get; set; }
    }

    private sealed record Row(long Line, Dictionary<string, JsonNode?> Cells, bool FromCsv);

    public async Task<AnnotationImportReport> ImportAsync(long projectId, long userId, Stream input, string format, CancellationToken ct)
    {
        var project = await db.Projects.AsNoTracking().FirstAsync(p => p.Id == projectId, ct);
        var schema = ProjectSchema.Parse(project.SchemaJson);
        var errors = new List<ImportLineError>();
        var pending = new Dictionary<(string, string), Pending>();
        long rows = 0;
        await foreach (var row in ReadRowsAsync(input, format, errors, ct))
        {
            rows++;
            var problem = AddRow(schema, row, pending);
            if (problem is not null)
            {
                AddError(errors, row.Line, problem);
            }
        }
        if (rows == 0 && errors.Count == 0)
        {
            AddError(errors, 1, "the file has no rows");
        }
        if (errors.Count > 0)
        {
            return Failed(rows, errors);
        }

        // Items, by external id.
        var items = new Dictionary<string, (long Id, string Fields, int Submitted)>(StringComparer.Ordinal);
        foreach (var chunk in pending.Values.Select(p => p.Item).Distinct().Chunk(500))
        {
            foreach (var i in await db.Items.AsNoTracking().Where(i => i.ProjectId == projectId && chunk.Contains(i.ExternalId))
                .Select(i => new { i.Id, i.ExternalId, i.FieldsJson, i.SubmittedCount }).ToListAsync(ct))
            {
                items[i.ExternalId] = (i.Id, i.FieldsJson, i.SubmittedCount);
            }
        }
        // Annotators: an existing user's e-mail maps to that user; anything else to an imported annotator.
        var emailOf = new Dictionary<string, string>(StringComparer.Ordinal);
        var rawOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in pending.Values.OrderBy(p => p.Line))
        {
            if (emailOf.ContainsKey(p.Annotator))
            {
                continue;
            }
            var email = p.Annotator.Contains('@', StringComparison.Ordinal) ? Emails.Normalise(p.Annotator) : PseudoEmail(p.Annotator);
            if (rawOf.TryGetValue(email, out var other) && other != p.Annotator)
            {
                AddError(errors, p.Line, $"annotator '{p.Annotator}' and '{other}' differ only in case or punctuation; give them distinct ids");
                continue;
            }
            emailOf[p.Annotator] = email;
            rawOf[email] = p.Annotator;
        }
        var users = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var chunk in rawOf.Keys.Chunk(500))
        {
            foreach (var u in await db.Users.AsNoTracking().Where(u => chunk.Contains(u.Email)).Select(u => new { u.Id, u.Email }).ToListAsync(ct))
            {
                users[u.Email] = u.Id;
            }
        }
        var unknownEmails = rawOf.Where(kv => kv.Value.Contains('@', StringComparison.Ordinal) && !users.ContainsKey(kv.Key)).ToList();
        foreach (var (email, raw) in unknownEmails)
        {
            // A real address of nobody here is most likely a typo; a pseudo account would hide it.
            var line = pending.Values.Where(p => p.Annotator == raw).Min(p => p.Line);
            AddError(errors, line, $"no user with e-mail '{email}'; create the user first or use a plain annotator id");
        }

        // Existing responses of these items by known users, for idempotency and the overlap check.
        var existing = new Dictionary<(long Item, long User), (long Id, string Status, string Values)>();
        var itemIds = items.Values.Select(i => i.Id).ToList();
        var userIds = users.Values.ToHashSet();
        foreach (var chunk in itemIds.Chunk(500))
        {
            foreach (var r in await db.Responses.AsNoTracking().Where(r => chunk.Contains(r.ItemId))
                .Select(r => new { r.Id, r.ItemId, r.UserId, r.Status, r.ValuesJson }).ToListAsync(ct))
            {
                if (userIds.Contains(r.UserId))
                {
                    existing[(r.ItemId, r.UserId)] = (r.Id, r.Status, r.ValuesJson);
                }
            }
        }
        var added = new Dictionary<long, int>();
        foreach (var p in pending.Values.OrderBy(p => p.Line))
        {
            if (!items.TryGetValue(p.Item, out var item))
            {
                AddError(errors, p.Line, $"no item with external id '{p.Item}' in project {projectId}; import the items first");
                continue;
            }
            foreach (var (question, message) in AnswerValidator.Validate(schema, JsonNode.Parse(item.Fields)!.AsObject(), p.Values, partial: true))
            {
                AddError(errors, p.LineOf.GetValueOrDefault(question, p.Line), $"{question}: {message}");
            }
            var known = emailOf.TryGetValue(p.Annotator, out var email) && users.TryGetValue(email, out var uid)
                && existing.TryGetValue((item.Id, uid), out var old) && old.Status == "submitted";
            if (!known)
            {
                added[item.Id] = added.GetValueOrDefault(item.Id) + 1;
                if (item.Submitted + added[item.Id] == project.Overlap + 1)
                {
                    AddError(errors, p.Line, $"item '{p.Item}' would have more than {project.Overlap} submitted responses (the project's overlap); raise the overlap first");
                }
            }
        }
        if (errors.Count > 0)
        {
            return Failed(rows, errors);
        }
        return await WriteAsync(projectId, userId, project, pending, items, emailOf, users, existing, added, rows, ct);
    }

    private async Task<AnnotationImportReport> WriteAsync(long projectId, long actorId, Project project, Dictionary<(string, string), Pending> pending,
        Dictionary<string, (long Id, string Fields, int Submitted)> items, Dictionary<string, string> emailOf, Dictionary<string, long> users,
        Dictionary<(long Item, long User), (long Id, string Status, string Values)> existing, Dictionary<long, int> added, long rows, CancellationToken ct)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        int created = 0, updated = 0, unchanged = 0, annotatorsCreated = 0;
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var newUsers = emailOf.Where(kv => !users.ContainsKey(kv.Value))
            .Select(kv => new User { Email = kv.Value, DisplayName = kv.Key, IsActive = false, CreatedAt = now }).ToList();
        foreach (var chunk in newUsers.Chunk(Batch))
        {
            db.Users.AddRange(chunk);
            await db.SaveChangesAsync(ct);
        }
        foreach (var u in newUsers)
        {
            users[u.Email] = u.Id;
            annotatorsCreated++;
        }
        db.ChangeTracker.Clear();

        foreach (var chunk in pending.Values.OrderBy(p => p.Line).Chunk(Batch))
        {
            var fresh = new List<(Pending P, long Item, long User, string Values)>();
            foreach (var p in chunk)
            {
                var item = items[p.Item].Id;
                var user = users[emailOf[p.Annotator]];
                var values = p.Values.ToJsonString(StoredJson.Options);
                if (existing.TryGetValue((item, user), out var old))
                {
                    if (old.Status == "submitted" && old.Values == values)
                    {
                        unchanged++;
                        continue;
                    }
                    var response = await db.Responses.FirstAsync(r => r.Id == old.Id, ct);
                    response.Status = "submitted";
                    response.ValuesJson = values;
                    response.Revision++;
                    response.UpdatedAt = now;
                    response.LeadTimeMs = p.LeadTimeMs ?? response.LeadTimeMs;
                    db.ResponseRevisions.Add(new ResponseRevision { ResponseId = response.Id, Revision = response.Revision, Status = "submitted", ValuesJson = values, CreatedAt = now });
                    await db.Assignments.Where(a => a.Id == response.AssignmentId)
                        .ExecuteUpdateAsync(s => s.SetProperty(a => a.Status, "submitted").SetProperty(a => a.CompletedAt, now), ct);
                    updated++;
                    continue;
                }
                fresh.Add((p, item, user, values));
            }
            // One lease row per person and item, marked submitted, so the queue never offers the item to that person.
            var leases = new List<Assignment>();
            foreach (var f in fresh)
            {
                var lease = await db.Assignments.FirstOrDefaultAsync(a => a.ItemId == f.Item && a.UserId == f.User && a.Stage == "annotate", ct)
                    ?? db.Assignments.Add(new Assignment { ProjectId = projectId, ItemId = f.Item, UserId = f.User, Stage = "annotate", Status = "submitted", LeasedAt = now }).Entity;
                lease.Status = "submitted";
                lease.ExpiresAt = now;
                lease.CompletedAt = now;
                leases.Add(lease);
            }
            await db.SaveChangesAsync(ct);
            var responses = fresh.Select((f, i) => new Response
            {
                ProjectId = projectId,
                ItemId = f.Item,
                UserId = f.User,
                AssignmentId = leases[i].Id,
                Status = "submitted",
                ValuesJson = f.Values,
                Revision = 1,
                GuidelineVersion = project.GuidelineVersion,
                LeadTimeMs = f.P.LeadTimeMs,
                CreatedAt = now,
                UpdatedAt = now,
            }).ToList();
            db.Responses.AddRange(responses);
            await db.SaveChangesAsync(ct);
            db.ResponseRevisions.AddRange(responses.Select(r => new ResponseRevision
            {
                ResponseId = r.Id,
                Revision = 1,
                Status = "submitted",
                ValuesJson = r.ValuesJson,
                CreatedAt = now,
            }));
            await db.SaveChangesAsync(ct);
            created += responses.Count;
            db.ChangeTracker.Clear();
        }
        foreach (var (itemId, count) in added)
        {
            // Full items leave the claim indexes, as a submit through the queue does.
            await db.Items.Where(i => i.Id == itemId).ExecuteUpdateAsync(s => s
                .SetProperty(i => i.QueueState, i => i.SubmittedCount + count >= project.Overlap ? ItemQueueStates.Complete : i.QueueState)
                .SetProperty(i => i.SubmittedCount, i => i.SubmittedCount + count), ct);
        }
        db.Record(clock, actorId, projectId, "annotations.import", "project", projectId, new { rows, created, updated, unchanged, annotatorsCreated });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return new AnnotationImportReport(true, rows, created, updated, unchanged, annotatorsCreated, []);
    }

    private static AnnotationImportReport Failed(long rows, List<ImportLineError> errors) =>
        new(false, rows, 0, 0, 0, 0, [.. errors.OrderBy(e => e.Line).Take(MaxErrors)]);

    private static void AddError(List<ImportLineError> errors, long line, string message)
    {
        // Kept a little past the listed limit so the sorted report still shows the earliest lines.
        if (errors.Count < MaxErrors * 10)
        {
            errors.Add(new ImportLineError(line, message));
        }
    }

    /// <summary>The address of an imported annotator: the id, lower-cased, with anything but letters, digits, '.', '_' and '-' as '-'.</summary>
    public static string PseudoEmail(string annotator)
    {
        var sb = new StringBuilder(annotator.Length + PseudoDomain.Length + 1);
        foreach (var c in annotator.Trim().ToLowerInvariant())
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-');
        }
        return sb.Append('@').Append(PseudoDomain).ToString();
    }

    private static string? AddRow(ProjectSchema schema, Row row, Dictionary<(string, string), Pending> pending)
    {
        var item = First(row, ItemKeys);
        var annotator = First(row, AnnotatorKeys);
        var questionName = Text(row.Cells.GetValueOrDefault("question"));
        if (string.IsNullOrWhiteSpace(item))
        {
            return "no item: give the item's external id in an 'item' column";
        }
        if (item.Length > 512)
        {
            return "item id is over 512 characters";
        }
        if (string.IsNullOrWhiteSpace(annotator))
        {
            return "no annotator: give an 'annotator' column (an id, or the e-mail of an existing user)";
        }
        if (annotator.Length > 200)
        {
            return "annotator id is over 200 characters";
        }
        if (string.IsNullOrWhiteSpace(questionName))
        {
            return "no question: give the question's name in a 'question' column";
        }
        var question = schema.FindQuestion(questionName);
        if (question is null)
        {
            return $"unknown question '{questionName}' (expected one of {string.Join(", ", schema.Questions.Select(q => q.Name))})";
        }
        if (!row.Cells.TryGetValue("value", out var raw) || raw is null || (row.FromCsv && Text(raw) is ""))
        {
            return "no value: give the answer in a 'value' column";
        }
        var (value, problem) = Convert(question, raw, row.FromCsv);
        if (problem is not null)
        {
            return problem;
        }
        var key = (item, annotator);
        if (!pending.TryGetValue(key, out var p))
        {
            pending[key] = p = new Pending(item, annotator, row.Line);
        }
        var turnText = Text(row.Cells.GetValueOrDefault("turn"));
        if (question.PerTurn is not null)
        {
            if (!int.TryParse(turnText, NumberStyles.None, CultureInfo.InvariantCulture, out var turn))
            {
                return $"question '{question.Name}' is asked per assistant turn: give the turn index in a 'turn' column";
            }
            var perTurn = p.Values[question.Name] as JsonObject ?? (JsonObject)(p.Values[question.Name] = new JsonObject());
            var turnKey = turn.ToString(CultureInfo.InvariantCulture);
            if (perTurn.ContainsKey(turnKey))
            {
                return $"repeats the answer of line {p.LineOf[question.Name]} to '{question.Name}' turn {turn} for item '{item}' by '{annotator}'";
            }
            perTurn[turnKey] = value;
        }
        else
        {
            if (p.Values.ContainsKey(question.Name))
            {
                return $"repeats the answer of line {p.LineOf[question.Name]} to '{question.Name}' for item '{item}' by '{annotator}'";
            }
            p.Values[question.Name] = value;
        }
        p.LineOf.TryAdd(question.Name, row.Line);
        if (Text(row.Cells.GetValueOrDefault("lead_time_ms")) is { Length: > 0 } lead)
        {
            if (!long.TryParse(lead, NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
            {
                return $"lead_time_ms '{lead}' is not a whole number of milliseconds";
            }
            p.LeadTimeMs = ms;
        }
        // Stored in schema order, so the same answers always serialise the same way whatever the row order.
        var ordered = new JsonObject();
        foreach (var q in schema.Questions)
        {
            if (p.Values.Remove(q.Name, out var v))
            {
                ordered[q.Name] = v;
            }
        }
        foreach (var (name, v) in ordered.ToList())
        {
            ordered.Remove(name);
            p.Values[name] = v;
        }
        return null;
    }

    /// <summary>The cell as the question's answer: CSV cells are text, so numbers and JSON are read out of them.</summary>
    private static (JsonNode? Value, string? Problem) Convert(QuestionDefinition q, JsonNode raw, bool fromCsv)
    {
        var kind = raw.GetValueKind();
        switch (q.Type)
        {
            case SchemaTypes.Label:
            case SchemaTypes.TextAnswer:
                return kind switch
                {
                    JsonValueKind.String => (JsonValue.Create(raw.GetValue<string>()), null),
                    JsonValueKind.Number => (JsonValue.Create(raw.ToJsonString()), null),
                    _ => (null, $"value of '{q.Name}' must be text"),
                };
            case SchemaTypes.Rating:
                if (kind == JsonValueKind.Number)
                {
                    return (raw.DeepClone(), null);
                }
                return kind == JsonValueKind.String && double.TryParse(raw.GetValue<string>(), NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
                    ? (number == Math.Floor(number) && Math.Abs(number) < int.MaxValue ? JsonValue.Create((int)number) : JsonValue.Create(number), null)
                    : (null, $"value of '{q.Name}' must be a number, got '{Text(raw)}'");
            case SchemaTypes.Preference:
                if (kind == JsonValueKind.String)
                {
                    var s = raw.GetValue<string>().Trim();
                    return s.StartsWith('{') ? ParseJson(q, s) : (new JsonObject { ["choice"] = s }, null);
                }
                return (raw.DeepClone(), null);
            default:
                return fromCsv || kind == JsonValueKind.String ? ParseJson(q, Text(raw)) : (raw.DeepClone(), null);
        }
    }

    private static (JsonNode? Value, string? Problem) ParseJson(QuestionDefinition q, string text)
    {
        try
        {
            return (JsonNode.Parse(text), null);
        }
        catch (JsonException)
        {
            var shape = q.Type switch
            {
                SchemaTypes.MultiLabel => "a JSON list of labels, like [\"a\",\"b\"]",
                SchemaTypes.Ranking => "a JSON list of candidate ids, best first",
                SchemaTypes.Span => "a JSON list of {start, end, label}",
                _ => "JSON",
            };
            return (null, $"value of '{q.Name}' must be {shape}");
        }
    }

    private static string First(Row row, string[] keys)
    {
        foreach (var key in keys)
        {
            if (row.Cells.TryGetValue(key, out var v) && Text(v) is { Length: > 0 } text)
            {
                return text;
            }
        }
        return "";
    }

    private static string Text(JsonNode? node) => node is null ? "" : node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>().Trim() : node.ToJsonString();

    private static async IAsyncEnumerable<Row> ReadRowsAsync(Stream input, string format, List<ImportLineError> errors,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        using var reader = new StreamReader(input, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        var source = new CharSource(reader);
        var first = await source.PeekAsync(ct);
        var lines = 0L;
        while (first is ' ' or '\t' or '\r' or '\n')
        {
            // Leading blank space decides nothing; the content does.
            if (await source.ReadAsync(ct) == '\n')
            {
                lines++;
            }
            first = await source.PeekAsync(ct);
        }
        var jsonl = format == "jsonl" || (format == "auto" && first == '{');
        if (jsonl)
        {
            var text = new StringBuilder();
            while (true)
            {
                text.Clear();
                int c;
                while ((c = await source.ReadAsync(ct)) >= 0 && c != '\n')
                {
                    text.Append((char)c);
                }
                if (c < 0 && text.Length == 0)
                {
                    yield break;
                }
                lines++;
                var lineText = text.ToString();
                if (string.IsNullOrWhiteSpace(lineText))
                {
                    continue;
                }
                JsonObject? obj = null;
                try
                {
                    obj = JsonNode.Parse(lineText) as JsonObject;
                }
                catch (JsonException ex)
                {
                    AddError(errors, lines, $"not valid JSON: {ex.Message.Split(" Path:")[0]}");
                    continue;
                }
                if (obj is null)
                {
                    AddError(errors, lines, "expected a JSON object {item, annotator, question, value}");
                    continue;
                }
                yield return new Row(lines, obj.ToDictionary(kv => kv.Key.ToLowerInvariant(), kv => kv.Value), false);
            }
        }
        var csv = new Csv(source, lines + 1);
        var header = await csv.ReadRecordAsync(ct);
        if (header is null)
        {
            yield break;
        }
        var names = header.Value.Fields.Select(h => h.Trim().ToLowerInvariant()).ToArray();
        if (!names.Contains("question") || !names.Contains("value"))
        {
            AddError(errors, header.Value.Line, "the CSV header needs columns item, annotator, question and value");
            yield break;
        }
        while (await csv.ReadRecordAsync(ct) is { } record)
        {
            if (record.Fields.Count == 1 && record.Fields[0].Length == 0)
            {
                continue;
            }
            if (record.Fields.Count != names.Length)
            {
                AddError(errors, record.Line, $"has {record.Fields.Count} cells, the header has {names.Length}");
                continue;
            }
            var cells = new Dictionary<string, JsonNode?>();
            for (var i = 0; i < names.Length; i++)
            {
                cells[names[i]] = JsonValue.Create(record.Fields[i]);
            }
            yield return new Row(record.Line, cells, true);
        }
        if (csv.Error is { } error)
        {
            AddError(errors, error.Line, error.Message);
        }
    }

    /// <summary>Characters read ahead in blocks with asynchronous reads (request bodies allow no synchronous I/O).</summary>
    private sealed class CharSource(TextReader reader)
    {
        private readonly char[] buffer = new char[1 << 14];
        private int position;
        private int length;

        public async ValueTask<int> PeekAsync(CancellationToken ct)
        {
            if (position == length && !await FillAsync(ct))
            {
                return -1;
            }
            return buffer[position];
        }

        public async ValueTask<int> ReadAsync(CancellationToken ct)
        {
            if (position == length && !await FillAsync(ct))
            {
                return -1;
            }
            return buffer[position++];
        }

        private async ValueTask<bool> FillAsync(CancellationToken ct)
        {
            length = await reader.ReadAsync(buffer.AsMemory(), ct);
            position = 0;
            return length > 0;
        }
    }

    /// <summary>RFC 4180 records: quoted cells, doubled quotes, line breaks inside quotes, CRLF or LF.</summary>
    private sealed class Csv(CharSource source, long firstLine)
    {
        private long line = firstLine;

        public ImportLineError? Error { get; private set; }

        public readonly record struct Record(long Line, List<string> Fields);

        public async Task<Record?> ReadRecordAsync(CancellationToken ct)
        {
            if (Error is not null || await source.PeekAsync(ct) < 0)
            {
                return null;
            }
            var start = line;
            var fields = new List<string>();
            var cell = new StringBuilder();
            var quoted = false;
            var wasQuoted = false;
            while (true)
            {
                var c = await source.ReadAsync(ct);
                if (c < 0)
                {
                    if (quoted)
                    {
                        Error = new ImportLineError(start, "a quoted cell is never closed");
                        return null;
                    }
                    fields.Add(cell.ToString());
                    return new Record(start, fields);
                }
                if (quoted)
                {
                    if (c == '"')
                    {
                        if (await source.PeekAsync(ct) == '"')
                        {
                            await source.ReadAsync(ct);
                            cell.Append('"');
                        }
                        else
                        {
                            quoted = false;
                        }
                    }
                    else
                    {
                        if (c == '\n')
                        {
                            line++;
                        }
                        cell.Append((char)c);
                    }
                    continue;
                }
                switch (c)
                {
                    case '"' when cell.Length == 0 && !wasQuoted:
                        quoted = wasQuoted = true;
                        break;
                    case ',':
                        fields.Add(cell.ToString());
                        cell.Clear();
                        wasQuoted = false;
                        break;
                    case '\r':
                        break;
                    case '\n':
                        line++;
                        fields.Add(cell.ToString());
                        return new Record(start, fields);
                    default:
                        cell.Append((char)c);
                        break;
                }
            }
        }
    }
}
