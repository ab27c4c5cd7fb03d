using System.Text.Json.Nodes;

namespace Plumbline.Server.Features.Quality;

/// <summary>A project's quality: agreement per question, a scorecard per annotator, the consensus per item.</summary>
/// <param name="ProjectId">The project.</param>
/// <param name="Responses">Submitted responses read.</param>
/// <param name="ItemsAnswered">Items with at least one submitted response.</param>
/// <param name="LabelMethod">Truth-inference method used for label and preference questions.</param>
/// <param name="RatingMethod">How ratings are combined per item.</param>
/// <param name="ReviewBelowConfidence">Items whose consensus confidence is under this need review.</param>
/// <param name="ItemsNeedingReview">How many items need review.</param>
/// <param name="Questions">Agreement per question.</param>
/// <param name="Annotators">One scorecard per annotator who submitted something.</param>
/// <param name="Items">Consensus per item (all, only those needing review, or none: <c>?items=</c>).</param>
public sealed record QualityReport(
    long ProjectId, int Responses, int ItemsAnswered, string LabelMethod, string RatingMethod, double ReviewBelowConfidence, int ItemsNeedingReview,
    List<QuestionQuality> Questions, List<AnnotatorScorecard> Annotators, IEnumerable<ItemQuality> Items);

/// <summary>Agreement on one question.</summary>
/// <param name="Name">Question name.</param>
/// <param name="Type">Question type.</param>
/// <param name="Metric">The agreement metric (the question type's default).</param>
/// <param name="Agreement">Its value; null when undefined (fewer than two answers on any unit, or no variation).</param>
/// <param name="PercentAgreement">Share of agreeing pairs of answers, for categorical questions.</param>
/// <param name="Answers">Answers counted.</param>
/// <param name="Units">Units answered (items, or item turns for per-turn questions).</param>
/// <param name="Annotators">Distinct annotators who answered.</param>
/// <param name="ConsensusMethod">How the consensus of this question is formed.</param>
/// <param name="GoldItems">Gold units whose consensus could be compared with their gold answer.</param>
/// <param name="ConsensusGoldAccuracy">Share of those where the consensus equals the gold answer.</param>
/// <param name="Distribution">For label, preference and rating questions: how many answers gave each value.</param>
public sealed record QuestionQuality(
    string Name, string Type, string Metric, double? Agreement, double? PercentAgreement, int Answers, int Units, int Annotators,
    string? ConsensusMethod, int GoldItems, double? ConsensusGoldAccuracy, List<AnswerCount>? Distribution);

/// <summary>How many answers gave one value.</summary>
/// <param name="Value">A label, a preference choice (<c>tie</c>, <c>both_bad</c>, <c>candidate N</c> in the item's order) or a scale point.</param>
/// <param name="Count">Answers.</param>
public sealed record AnswerCount(string Value, int Count);

/// <summary>How one annotator is doing.</summary>
/// <param name="UserId">The user.</param>
/// <param name="Email">Their e-mail (imported annotators have an address under annotators.invalid).</param>
/// <param name="Items">Items they submitted.</param>
/// <param name="MedianLeadTimeMs">Median time per submitted item.</param>
/// <param name="GoldAnswered">Answers to gold questions.</param>
/// <param name="GoldAccuracy">Share of those equal to the gold answer.</param>
/// <param name="ComparedWithConsensus">Categorical answers on items others answered too.</param>
/// <param name="AgreementWithConsensus">Share of those equal to the item's consensus.</param>
/// <param name="RatingBias">Per rating question, the mean of (their rating − consensus).</param>
/// <param name="ReviewsAccepted">Reviews that accepted their responses.</param>
/// <param name="ReviewsRejected">Reviews that sent their responses back.</param>
/// <param name="CorrectionsReceived">Reviews that corrected their responses.</param>
/// <param name="Paused">Why they are paused, when they are.</param>
/// <param name="Flags">Careless-work signals.</param>
public sealed record AnnotatorScorecard(
    long UserId, string Email, int Items, long? MedianLeadTimeMs, int GoldAnswered, double? GoldAccuracy, int ComparedWithConsensus,
    double? AgreementWithConsensus, Dictionary<string, double> RatingBias, int ReviewsAccepted, int ReviewsRejected, int CorrectionsReceived,
    string? Paused, List<QualityFlag> Flags);

/// <summary>A careless-work signal: <c>fast</c>, <c>straight_lining</c>, <c>position_bias</c>, <c>low_gold_accuracy</c> or <c>low_agreement</c>.</summary>
public sealed record QualityFlag(string Code, string Detail);

/// <summary>The consensus of one item.</summary>
/// <param name="ItemId">The item.</param>
/// <param name="ExternalId">Its external id.</param>
/// <param name="Responses">Submitted responses.</param>
/// <param name="NeedsReview">Some consensus is below the threshold and not yet decided by an expert.</param>
/// <param name="Consensus">Per question (and turn).</param>
public sealed record ItemQuality(long ItemId, string ExternalId, int Responses, bool NeedsReview, List<ConsensusValue> Consensus);

/// <summary>The combined answer to one question of an item.</summary>
/// <param name="Question">Question name.</param>
/// <param name="Turn">Assistant turn, for per-turn questions.</param>
/// <param name="Value">The consensus answer, in the same shape as a response's value.</param>
/// <param name="Confidence">0..1; what it means depends on the method (posterior, vote share, share within one point, W, similarity).</param>
/// <param name="Answers">Answers combined.</param>
/// <param name="Decided">True when an expert's adjudication set the value.</param>
public sealed record ConsensusValue(string Question, int? Turn, JsonNode? Value, double Confidence, int Answers, bool Decided);
