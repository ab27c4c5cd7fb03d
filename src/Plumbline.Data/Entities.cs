namespace Plumbline.Data;

/// <summary>A person who signs in; admins manage users, tokens and providers.</summary>
public sealed class User
{
    public long Id { get; set; }
    /// <summary>Lower-cased e-mail address, unique.</summary>
    public required string Email { get; set; }
    public string? DisplayName { get; set; }
    /// <summary>ASP.NET Core's <c>PasswordHasher</c> output (PBKDF2); null for token-only accounts.</summary>
    public string? PasswordHash { get; set; }
    public bool IsAdmin { get; set; }
    public bool IsActive { get; set; } = true;
    public DateTime CreatedAt { get; set; }
}

/// <summary>An API token: only its SHA-256 is stored; the token itself is shown once.</summary>
public sealed class ApiToken
{
    public long Id { get; set; }
    public long UserId { get; set; }
    public User? User { get; set; }
    public required string Name { get; set; }
    /// <summary>The first characters of the token, so a person can tell their tokens apart.</summary>
    public required string Prefix { get; set; }
    public required string Hash { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? LastUsedAt { get; set; }
    public DateTime? RevokedAt { get; set; }
}

public sealed class Project
{
    public long Id { get; set; }
    public required string Name { get; set; }
    public string? Description { get; set; }
    /// <summary>The <c>ProjectSchema</c> document (fields, questions, workflow) as JSON.</summary>
    public required string SchemaJson { get; set; }
    /// <summary>Copied out of the schema because the queue reads it on every claim.</summary>
    public int Overlap { get; set; }
    public int GuidelineVersion { get; set; }
    public DateTime CreatedAt { get; set; }
    public long CreatedById { get; set; }
}

/// <summary>One saved version of a project's guidelines; versions are never edited.</summary>
public sealed class Guideline
{
    public long Id { get; set; }
    public long ProjectId { get; set; }
    public int Version { get; set; }
    public required string Markdown { get; set; }
    public DateTime CreatedAt { get; set; }
    public long CreatedById { get; set; }
}

public sealed class ProjectMember
{
    public long ProjectId { get; set; }
    public long UserId { get; set; }
    public User? User { get; set; }
    /// <summary><c>manager</c>, <c>reviewer</c> or <c>annotator</c>.</summary>
    public required string Role { get; set; }
    public DateTime AddedAt { get; set; }
}

public sealed class Item
{
    public long Id { get; set; }
    public long ProjectId { get; set; }
    public required string ExternalId { get; set; }
    public required string FieldsJson { get; set; }
    public string MetadataJson { get; set; } = "{}";
    /// <summary>Gold answers; never sent to annotators.</summary>
    public string? GoldJson { get; set; }
    /// <summary>Submitted responses so far; guarded so it never exceeds the overlap.</summary>
    public int SubmittedCount { get; set; }
    /// <summary>Claimed first when higher; read from the metadata key the workflow names (<c>priorityKey</c>).</summary>
    public double Priority { get; set; }
    /// <summary>Where the item stands in the queue (<see cref="ItemQueueStates"/>); the claim indexes cover open items only.</summary>
    public int QueueState { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>A lease of an item to a person for a stage, with an expiry.</summary>
public sealed class Assignment
{
    public long Id { get; set; }
    public long ProjectId { get; set; }
    public long ItemId { get; set; }
    public long UserId { get; set; }
    public string Stage { get; set; } = "annotate";
    /// <summary><c>active</c>, <c>submitted</c>, <c>skipped</c>.</summary>
    public required string Status { get; set; }
    public DateTime LeasedAt { get; set; }
    public DateTime ExpiresAt { get; set; }
    public DateTime? CompletedAt { get; set; }
    /// <summary>How the item was shown (candidate order), as JSON.</summary>
    public string? PresentationJson { get; set; }
}

/// <summary>One person's answers to one item; earlier versions live in <see cref="ResponseRevision"/>.</summary>
public sealed class Response
{
    public long Id { get; set; }
    public long ProjectId { get; set; }
    public long ItemId { get; set; }
    public long UserId { get; set; }
    public long AssignmentId { get; set; }
    /// <summary><c>draft</c>, <c>submitted</c> or <c>skipped</c>.</summary>
    public required string Status { get; set; }
    public string ValuesJson { get; set; } = "{}";
    public int Revision { get; set; }
    public int GuidelineVersion { get; set; }
    public long? LeadTimeMs { get; set; }
    public string? PresentationJson { get; set; }
    public string? SkipReason { get; set; }
    /// <summary>
    /// Figures the server derives from the answers, kept beside them so <c>values</c> stays exactly what the person
    /// answered (e.g. <c>{"edits": {"question": {"distance": 3, ...}}}</c> for edited drafts); JSON, null when none.
    /// </summary>
    public string? MetadataJson { get; set; }
    /// <summary>The <c>Idempotency-Key</c> of the submit that stored the current revision; a retry with it stores nothing new.</summary>
    public string? SubmitKey { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

public sealed class ResponseRevision
{
    public long Id { get; set; }
    public long ResponseId { get; set; }
    public int Revision { get; set; }
    public required string Status { get; set; }
    public required string ValuesJson { get; set; }
    public DateTime CreatedAt { get; set; }
}

/// <summary>A proposed answer from a model or a person.</summary>
public sealed class Suggestion
{
    public long Id { get; set; }
    public long ProjectId { get; set; }
    public long ItemId { get; set; }
    public required string Question { get; set; }
    public required string ValueJson { get; set; }
    public double? Score { get; set; }
    public required string Agent { get; set; }
    public DateTime CreatedAt { get; set; }
}

/// <summary>A reviewer's verdict on a response.</summary>
public sealed class Review
{
    public long Id { get; set; }
    public long ProjectId { get; set; }
    public long ResponseId { get; set; }
    public long ReviewerId { get; set; }
    /// <summary><c>accept</c>, <c>reject</c> or <c>correct</c>.</summary>
    public required string Verdict { get; set; }
    public string? Comment { get; set; }
    public string? CorrectedValuesJson { get; set; }
    public DateTime CreatedAt { get; set; }
}

/// <summary>Who did what, when, to which object.</summary>
public sealed class AuditEvent
{
    public long Id { get; set; }
    public DateTime At { get; set; }
    public long? UserId { get; set; }
    public long? ProjectId { get; set; }
    public required string Action { get; set; }
    public required string EntityType { get; set; }
    public string? EntityId { get; set; }
    public string? DataJson { get; set; }
}
