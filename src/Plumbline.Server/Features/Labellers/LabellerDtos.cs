using System.Text.Json.Nodes;

namespace Plumbline.Server.Features.Labellers;

/// <summary>A new labeller (its version 1).</summary>
/// <param name="Name">Unique in the project: letters, digits, <c>_</c> and <c>-</c>, not only digits.</param>
/// <param name="Provider">The model provider, by name or id (an admin configures providers).</param>
/// <param name="Prompt">The user message: a template over the item's fields, <c>{{field}}</c>, <c>{{metadata.KEY}}</c> and <c>{{questions}}</c> (the description of what to answer, appended when absent).</param>
/// <param name="SystemPrompt">An optional system message.</param>
/// <param name="Questions">The questions it answers, by name; all the project's questions when left out.</param>
/// <param name="Parameters">Request parameters over the provider's defaults (<c>temperature</c>, <c>max_tokens</c>, <c>seed</c> …).</param>
/// <param name="Note">What this version is about.</param>
public sealed record CreateLabellerRequest(string? Name, string? Provider, string? Prompt, string? SystemPrompt = null, List<string>? Questions = null,
    JsonObject? Parameters = null, string? Note = null);

/// <summary>A change to a labeller: a new version with these settings; what is left out is copied from the current version.</summary>
public sealed record UpdateLabellerRequest(string? Provider = null, string? Prompt = null, string? SystemPrompt = null, List<string>? Questions = null,
    JsonObject? Parameters = null, string? Note = null);

/// <summary>One version of a labeller.</summary>
/// <param name="Agent">The agent its suggestions carry: <c>model:PROVIDER/MODEL@labeller:NAMEvN</c>.</param>
public sealed record LabellerVersionDto(int Version, string Agent, long ProviderId, string Provider, string Model, string Prompt, string? SystemPrompt,
    List<string> Questions, JsonObject Parameters, string? Note, DateTime CreatedAt);

/// <summary>A labeller with all its versions, newest first.</summary>
public sealed record LabellerDto(long Id, string Name, int CurrentVersion, DateTime CreatedAt, List<LabellerVersionDto> Versions);

/// <summary>Which items a run asks about; all optional, combined with AND.</summary>
/// <param name="Gold">true: only gold items; false: only items without gold.</param>
/// <param name="Status"><c>none</c>, <c>in_progress</c> or <c>complete</c> (submitted responses against the overlap).</param>
/// <param name="Metadata">Top-level metadata keys and the values (as text) they must have.</param>
/// <param name="ExternalIds">Only these items.</param>
/// <param name="Limit">At most this many items (the first in id order).</param>
public sealed record LabellerRunFilter(bool? Gold = null, string? Status = null, Dictionary<string, string>? Metadata = null,
    List<string>? ExternalIds = null, int? Limit = null);

/// <summary>Start a run.</summary>
/// <param name="Version">The version to run; the current one when left out.</param>
/// <param name="Filter">Which items; all when left out.</param>
/// <param name="Suggest">Write suggestions annotators see (default true); false only measures the labeller.</param>
/// <param name="Concurrency">Requests in flight at once, 1-32 (default 4); the provider's rate limit still applies.</param>
public sealed record StartLabellerRunRequest(int? Version = null, LabellerRunFilter? Filter = null, bool? Suggest = null, int? Concurrency = null);

/// <summary>A run and its progress.</summary>
/// <param name="Status"><c>queued</c>, <c>running</c>, <c>completed</c>, <c>failed</c> or <c>cancelled</c> (its job's status; the job's <c>succeeded</c> reads <c>completed</c>).</param>
/// <param name="Total">Items the filter selects; null until the run has listed them.</param>
/// <param name="Done">Items answered.</param>
/// <param name="Failed">Items without a usable answer (see the report's failures).</param>
/// <param name="Cost">In the currency of the provider's prices; 0 when none are set.</param>
/// <param name="JobId">The background job doing the run (GET /api/v1/jobs/{id}, the project's jobs page).</param>
public sealed record LabellerRunDto(long Id, long LabellerId, string Labeller, int Version, string Status, int? Total, int Done, int Failed,
    long PromptTokens, long CompletionTokens, double? Cost, bool Suggest, LabellerRunFilter? Filter, string? Error,
    DateTime CreatedAt, DateTime? StartedAt, DateTime? FinishedAt, long JobId);

/// <summary>How a labeller version does, per question and overall; partial while a run is going.</summary>
/// <param name="Runs">This version's runs, newest first.</param>
/// <param name="Items">Items with at least one result of this version.</param>
/// <param name="Answered">Items whose latest result is a valid answer.</param>
/// <param name="Failed">Items whose latest result is a failure.</param>
/// <param name="Coverage">Answered ÷ Items.</param>
/// <param name="Requests">Model calls made (every result of every run).</param>
/// <param name="Cost">Total over every request; null when the provider has no prices.</param>
/// <param name="LatencyP50Ms">Median latency per request, nearest rank.</param>
/// <param name="LatencyP95Ms">95th percentile latency per request, nearest rank.</param>
/// <param name="LabelMethod">How the human consensus of label and preference questions is formed (as in the quality report).</param>
/// <param name="RatingMethod">How the human consensus of ratings is formed; the labeller's rating matches it when equal to it rounded.</param>
/// <param name="Questions">Figures per question.</param>
/// <param name="Failures">The first failures in item order, with the reason.</param>
public sealed record LabellerReport(long LabellerId, string Labeller, int Version, string Agent, string Provider, string Model, List<LabellerRunDto> Runs,
    int Items, int Answered, int Failed, double? Coverage, int Requests, long PromptTokens, long CompletionTokens, double? Cost,
    long? LatencyP50Ms, long? LatencyP95Ms, string LabelMethod, string RatingMethod, List<LabellerQuestionReport> Questions, List<LabellerFailure> Failures);

/// <summary>One question: how often the labeller answered it, agreed with gold and with people, and what annotators did with its suggestions.</summary>
/// <param name="Answered">Units (items, or turns of per-turn questions) the labeller answered.</param>
/// <param name="Gold">Against gold answers.</param>
/// <param name="Consensus">Against the human consensus of the quality report (expert decisions included).</param>
/// <param name="Suggestions">What annotators did with this version's suggestions.</param>
public sealed record LabellerQuestionReport(string Name, string Type, int Answered, AgreementFigures Gold, AgreementFigures Consensus, SuggestionFigures Suggestions);

/// <summary>Agreement of the labeller with a reference.</summary>
/// <param name="Compared">Units with both answers.</param>
/// <param name="Matches">Units where they are the same answer (as gold scoring compares answers).</param>
/// <param name="Kappa">Cohen's kappa (label and preference questions unweighted, ratings quadratic-weighted over the scale); null when undefined.</param>
/// <param name="Confusion">Counts by reference answer (rows) and labeller answer (columns), for label, rating and preference questions.</param>
public sealed record AgreementFigures(int Compared, int Matches, double? Accuracy, double? Kappa, ConfusionMatrix? Confusion);

/// <summary>A confusion matrix: <c>Counts[row][column]</c>, rows the reference's categories, columns the labeller's.</summary>
public sealed record ConfusionMatrix(List<string> Categories, long[][] Counts);

/// <summary>What annotators did with suggestions of this version, from their submitted responses.</summary>
/// <param name="AcceptanceRate">Accepted ÷ shown.</param>
public sealed record SuggestionFigures(int Shown, int Accepted, int Edited, int Rejected, double? AcceptanceRate);

/// <summary>An item the labeller could not answer.</summary>
/// <param name="Output">The start of what the model answered, when it answered something unusable.</param>
public sealed record LabellerFailure(long ItemId, string ExternalId, string Error, string? Output);

/// <summary>Two labeller versions on the items both answered.</summary>
/// <param name="SharedItems">Items both answered; both reports count only these.</param>
/// <param name="Between">Per question, how often B gives A's answer (A is the reference of the figures).</param>
public sealed record LabellerComparison(LabellerReport A, LabellerReport B, int SharedItems, List<QuestionAgreement> Between);

/// <summary>Agreement on one question.</summary>
public sealed record QuestionAgreement(string Question, AgreementFigures Figures);
