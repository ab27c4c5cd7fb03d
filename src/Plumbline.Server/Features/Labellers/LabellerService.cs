using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Plumbline.Core;
using Plumbline.Core.Labelling;
using Plumbline.Core.Schema;
using Plumbline.Data;
using Plumbline.Server.Features.Auth;
using Plumbline.Server.Features.Items;
using Plumbline.Server.Features.Jobs;
using Plumbline.Server.Features.Models;

namespace Plumbline.Server.Features.Labellers;

/// <summary>Something about a labeller request that cannot be done, in words; the status says why.</summary>
public sealed class LabellerException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>Creates labellers and their versions, starts and cancels runs.</summary>
public sealed class LabellerService(PlumblineDbContext db, ModelProviders providers, JobSignal jobs, TimeProvider clock)
{
    public const int MaxConcurrency = 32;
    private static readonly string[] ReservedNames = ["compare", "runs"];

    /// <summary><c>model:PROVIDER/MODEL@labeller:NAMEvN</c>: who made a suggestion, precisely enough to compare versions.</summary>
    public static string Agent(LabellerVersion version, string labellerName) =>
        $"model:{version.ProviderName}/{version.Model}@labeller:{labellerName}v{version.Version.ToString(CultureInfo.InvariantCulture)}";

    public static List<string> QuestionsOf(LabellerVersion version) => JsonSerializer.Deserialize<List<string>>(version.QuestionsJson) ?? [];

    public static LabellerVersionDto ToDto(LabellerVersion v, string name) => new(v.Version, Agent(v, name), v.ProviderId, v.ProviderName, v.Model,
        v.PromptTemplate, v.SystemPrompt, QuestionsOf(v), JsonNode.Parse(v.ParametersJson) as JsonObject ?? [], v.Note, v.CreatedAt);

    /// <summary>A run with its job's progress; the total is known once the job has listed its items.</summary>
    public static LabellerRunDto ToDto(LabellerRun r, Job j, long labellerId, string name, int version) => new(r.Id, labellerId, name, version,
        LabellerJobs.RunStatus(j.Status), j.Planned ? j.Total : null, j.Done, j.Failed, j.PromptTokens, j.CompletionTokens, Math.Round(j.Cost, 8), r.Suggest,
        r.FilterJson is null ? null : JsonSerializer.Deserialize<LabellerRunFilter>(r.FilterJson, JsonSerializerOptions.Web),
        j.Error, r.CreatedAt, j.StartedAt, j.FinishedAt, j.Id);

    public async Task<List<LabellerDto>> ListAsync(long projectId, CancellationToken ct)
    {
        var labellers = await db.Set<Labeller>().AsNoTracking().Where(l => l.ProjectId == projectId).OrderBy(l => l.Name).ToListAsync(ct);
        var versions = await db.Set<LabellerVersion>().AsNoTracking().Where(v => v.ProjectId == projectId)
            .OrderByDescending(v => v.Version).ToListAsync(ct);
        return [.. labellers.Select(l => new LabellerDto(l.Id, l.Name, l.CurrentVersion, l.CreatedAt,
            [.. versions.Where(v => v.LabellerId == l.Id).Select(v => ToDto(v, l.Name))]))];
    }

    /// <summary>A labeller by id (digits) or name.</summary>
    public async Task<Labeller> FindAsync(long projectId, string idOrName, CancellationToken ct)
    {
        var query = db.Set<Labeller>().AsNoTracking().Where(l => l.ProjectId == projectId);
        var labeller = long.TryParse(idOrName, NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            ? await query.FirstOrDefaultAsync(l => l.Id == id, ct)
            : await query.FirstOrDefaultAsync(l => l.Name == idOrName, ct);
        return labeller ?? throw new LabellerException(404, $"project {projectId} has no labeller '{idOrName}' (see GET /api/v1/projects/{projectId}/labellers)");
    }

    public async Task<LabellerDto> GetAsync(long projectId, string idOrName, CancellationToken ct)
    {
        var l = await FindAsync(projectId, idOrName, ct);
        var versions = await db.Set<LabellerVersion>().AsNoTracking().Where(v => v.LabellerId == l.Id).OrderByDescending(v => v.Version).ToListAsync(ct);
        return new LabellerDto(l.Id, l.Name, l.CurrentVersion, l.CreatedAt, [.. versions.Select(v => ToDto(v, l.Name))]);
    }

    /// <summary>The version <paramref name="version"/> of a labeller (its current one when null).</summary>
    public async Task<LabellerVersion> VersionAsync(Labeller labeller, int? version, CancellationToken ct)
    {
        var number = version ?? labeller.CurrentVersion;
        return await db.Set<LabellerVersion>().AsNoTracking().FirstOrDefaultAsync(v => v.LabellerId == labeller.Id && v.Version == number, ct)
            ?? throw new LabellerException(404, $"labeller '{labeller.Name}' has no version {number} (versions 1 to {labeller.CurrentVersion})");
    }

    public async Task<LabellerDto> CreateAsync(long projectId, long userId, CreateLabellerRequest request, CancellationToken ct)
    {
        var name = request.Name?.Trim() ?? "";
        if (name.Length is 0 or > 100 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-') || name.All(char.IsAsciiDigit)
            || ReservedNames.Contains(name))
        {
            throw new LabellerException(400, $"name '{name}' must be 1-100 letters, digits, '_' or '-', not only digits, and not {string.Join(" or ", ReservedNames)}");
        }
        if (await db.Set<Labeller>().AnyAsync(l => l.ProjectId == projectId && l.Name == name, ct))
        {
            throw new LabellerException(409, $"project {projectId} already has a labeller '{name}'; change it with PUT …/labellers/{name} (a new version)");
        }
        var now = clock.GetUtcNow().UtcDateTime;
        var version = await NewVersionAsync(projectId, userId, request.Provider, request.Prompt, request.SystemPrompt, request.Questions, request.Parameters,
            request.Note, previous: null, ct);
        var labeller = new Labeller { ProjectId = projectId, Name = name, CurrentVersion = 1, CreatedById = userId, CreatedAt = now };
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        db.Add(labeller);
        await db.SaveChangesAsync(ct);
        version.LabellerId = labeller.Id;
        version.Version = 1;
        db.Add(version);
        db.Record(clock, userId, projectId, "labeller.create", "labeller", labeller.Id, new { name, provider = version.ProviderName, version.Model });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return new LabellerDto(labeller.Id, name, 1, now, [ToDto(version, name)]);
    }

    public async Task<LabellerDto> UpdateAsync(long projectId, long userId, string idOrName, UpdateLabellerRequest request, CancellationToken ct)
    {
        var found = await FindAsync(projectId, idOrName, ct);
        var current = await VersionAsync(found, null, ct);
        var version = await NewVersionAsync(projectId, userId, request.Provider, request.Prompt, request.SystemPrompt, request.Questions, request.Parameters,
            request.Note, current, ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var labeller = await db.Set<Labeller>().FirstAsync(l => l.Id == found.Id, ct);
        labeller.CurrentVersion++;
        version.LabellerId = labeller.Id;
        version.Version = labeller.CurrentVersion;
        db.Add(version);
        db.Record(clock, userId, projectId, "labeller.version", "labeller", labeller.Id, new { version.Version });
        // The unique (labeller, version) index turns a concurrent change into an error instead of two version 3s.
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return await GetAsync(projectId, labeller.Id.ToString(CultureInfo.InvariantCulture), ct);
    }

    private async Task<LabellerVersion> NewVersionAsync(long projectId, long userId, string? provider, string? prompt, string? systemPrompt,
        List<string>? questions, JsonObject? parameters, string? note, LabellerVersion? previous, CancellationToken ct)
    {
        var schema = ProjectSchema.Parse(await db.Projects.AsNoTracking().Where(p => p.Id == projectId).Select(p => p.SchemaJson).FirstAsync(ct));
        ModelProvider? chosen;
        if (provider is not null || previous is null)
        {
            if (string.IsNullOrWhiteSpace(provider))
            {
                throw new LabellerException(400, "provider is required: the name of a model provider (plumbline provider list)");
            }
            chosen = await providers.FindAsync(provider.Trim(), ct)
                ?? throw new LabellerException(400, $"there is no model provider '{provider}'; an admin adds one with plumbline provider add");
        }
        else
        {
            chosen = await db.Set<ModelProvider>().AsNoTracking().FirstOrDefaultAsync(p => p.Id == previous.ProviderId, ct)
                ?? throw new LabellerException(400, $"provider {previous.ProviderId} of the current version no longer exists; name another with provider");
        }
        var template = prompt ?? previous?.PromptTemplate;
        if (string.IsNullOrWhiteSpace(template))
        {
            throw new LabellerException(400, "prompt is required: a template over the item's fields, e.g. \"Classify this response:\\n{{response}}\"");
        }
        try
        {
            LabellerPrompt.Parse(template, schema);
        }
        catch (SchemaException ex)
        {
            throw new LabellerException(400, ex.Message);
        }
        var names = questions ?? (previous is null ? null : QuestionsOf(previous)) ?? [.. schema.Questions.Where(LabellerOutput.CanAnswer).Select(q => q.Name)];
        if (names.Count == 0)
        {
            throw new LabellerException(400, "questions is empty: name at least one of the project's questions");
        }
        foreach (var n in names)
        {
            var q = schema.FindQuestion(n) ?? throw new LabellerException(400,
                $"questions: '{n}' is not a question of the project (questions: {string.Join(", ", schema.Questions.Select(q => q.Name))})");
            if (!LabellerOutput.CanAnswer(q))
            {
                throw new LabellerException(400, $"questions: '{n}' is a span question without a text field; a labeller cannot answer it");
            }
            if (q.ShowWhen is not null && !names.Contains(q.ShowWhen.Question))
            {
                throw new LabellerException(400, $"questions: '{n}' is shown only when '{q.ShowWhen.Question}' is '{q.ShowWhen.EqualsValue}'; add '{q.ShowWhen.Question}' too");
            }
        }
        if (names.Distinct().Count() != names.Count)
        {
            throw new LabellerException(400, "questions: a question is named twice");
        }
        var parametersJson = parameters?.ToJsonString(StoredJson.Options) ?? previous?.ParametersJson ?? "{}";
        if (parameters is not null && (parameters.ContainsKey("messages") || parameters.ContainsKey("response_format") || parameters.ContainsKey("model")))
        {
            throw new LabellerException(400, "parameters may not set messages, model or response_format: the labeller sets them");
        }
        return new LabellerVersion
        {
            ProjectId = projectId,
            ProviderId = chosen.Id,
            ProviderName = chosen.Name,
            Model = chosen.Model,
            PromptTemplate = template,
            SystemPrompt = systemPrompt ?? previous?.SystemPrompt,
            QuestionsJson = JsonSerializer.Serialize(names),
            ParametersJson = parametersJson,
            Note = note,
            CreatedById = userId,
            CreatedAt = clock.GetUtcNow().UtcDateTime,
        };
    }

    public async Task<LabellerRunDto> StartRunAsync(long projectId, long userId, string idOrName, StartLabellerRunRequest request, CancellationToken ct)
    {
        var labeller = await FindAsync(projectId, idOrName, ct);
        var version = await VersionAsync(labeller, request.Version, ct);
        var filter = request.Filter;
        if (filter?.Status is { } status && !ItemStatus.All.Contains(status))
        {
            throw new LabellerException(400, $"filter.status '{status}' is not one of {string.Join(", ", ItemStatus.All)}");
        }
        if (filter?.Limit is < 1)
        {
            throw new LabellerException(400, "filter.limit must be at least 1");
        }
        var concurrency = request.Concurrency ?? 4;
        if (concurrency is < 1 or > MaxConcurrency)
        {
            throw new LabellerException(400, $"concurrency must be 1 to {MaxConcurrency}");
        }
        var now = clock.GetUtcNow().UtcDateTime;
        var suggest = request.Suggest ?? true;
        var job = new Job
        {
            Kind = LabellerJobs.JobKind,
            ProjectId = projectId,
            Status = JobStatuses.Queued,
            SettingsJson = JsonSerializer.Serialize(new LabellerJobSettings(labeller.Name, version.Version, concurrency, suggest, filter), StoredJson.Options),
            CreatedById = userId,
            CreatedAt = now,
        };
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        db.Add(job);
        await db.SaveChangesAsync(ct);
        var run = new LabellerRun
        {
            ProjectId = projectId,
            LabellerVersionId = version.Id,
            JobId = job.Id,
            FilterJson = filter is null ? null : JsonSerializer.Serialize(filter, JsonSerializerOptions.Web),
            Suggest = suggest,
            CreatedById = userId,
            CreatedAt = now,
        };
        db.Add(run);
        await db.SaveChangesAsync(ct);
        db.Record(clock, userId, projectId, "labeller.run", "labeller_run", run.Id, new { labeller = labeller.Name, version.Version, run.Suggest, job = job.Id });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        jobs.Wake();
        return ToDto(run, job, labeller.Id, labeller.Name, version.Version);
    }

    public async Task<LabellerRunDto> RunAsync(long projectId, long runId, CancellationToken ct)
    {
        var found = await (from r in db.Set<LabellerRun>().AsNoTracking()
                           join j in db.Set<Job>() on r.JobId equals j.Id
                           join v in db.Set<LabellerVersion>() on r.LabellerVersionId equals v.Id
                           join l in db.Set<Labeller>() on v.LabellerId equals l.Id
                           where r.Id == runId && r.ProjectId == projectId
                           select new { Run = r, Job = j, l.Id, l.Name, v.Version }).FirstOrDefaultAsync(ct)
            ?? throw new LabellerException(404, $"project {projectId} has no labeller run {runId}");
        return ToDto(found.Run, found.Job, found.Id, found.Name, found.Version);
    }

    public async Task<List<LabellerRunDto>> RunsAsync(long projectId, Labeller labeller, int? version, CancellationToken ct)
    {
        var rows = await (from r in db.Set<LabellerRun>().AsNoTracking()
                          join j in db.Set<Job>() on r.JobId equals j.Id
                          join v in db.Set<LabellerVersion>() on r.LabellerVersionId equals v.Id
                          where v.LabellerId == labeller.Id && (version == null || v.Version == version)
                          orderby r.Id descending
                          select new { Run = r, Job = j, v.Version }).ToListAsync(ct);
        return [.. rows.Select(x => ToDto(x.Run, x.Job, labeller.Id, labeller.Name, x.Version))];
    }

    /// <summary>Stops a queued or running run; what it stored so far stays (the runner stores nothing more once asked).</summary>
    public async Task<LabellerRunDto> CancelAsync(long projectId, long userId, long runId, CancellationToken ct)
    {
        var jobId = await db.Set<LabellerRun>().AsNoTracking().Where(r => r.Id == runId && r.ProjectId == projectId).Select(r => (long?)r.JobId)
            .FirstOrDefaultAsync(ct) ?? throw new LabellerException(404, $"project {projectId} has no labeller run {runId}");
        var asked = await db.Set<Job>().AsNoTracking().Where(j => j.Id == jobId).Select(j => j.CancelRequested).FirstAsync(ct);
        if (asked || !await JobCancellation.RequestAsync(db, jobId, clock.GetUtcNow().UtcDateTime, ct))
        {
            var current = await RunAsync(projectId, runId, ct);
            throw new LabellerException(409, $"run {runId} is {current.Status}{(asked && current.Status == JobStatuses.Running ? " and stopping" : "")}; " +
                "only queued or running runs can be cancelled");
        }
        db.Record(clock, userId, projectId, "labeller.cancel", "labeller_run", runId, new { job = jobId });
        await db.SaveChangesAsync(ct);
        return await RunAsync(projectId, runId, ct);
    }
}
