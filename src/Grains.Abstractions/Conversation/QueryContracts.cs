using System.Collections.Immutable;
using Orleans.Concurrency;

namespace AuroraNexus.Grains.Conversation;

/// <param name="Settings">
/// Settings to answer with instead of the tenant's saved ones: the backoffice's "test this setting" tries unsaved
/// values through the same path. The public API never sets it.
/// </param>
[GenerateSerializer, Immutable, Alias("nexus.QueryRequest")]
public sealed record QueryRequest(
    [property: Id(0)] string Question,
    [property: Id(1)] int? TopK,
    [property: Id(2)] Guid QueryId,
    [property: Id(3)] AuroraNexus.Grains.Tenancy.TenantSettings? Settings = null);

[GenerateSerializer, Immutable, Alias("nexus.SectionRef")]
public sealed record SectionRef([property: Id(0)] string Id, [property: Id(1)] string Title);

[GenerateSerializer, Immutable, Alias("nexus.FollowUpInfo")]
public sealed record FollowUpInfo(
    [property: Id(0)] bool Resolved,
    [property: Id(1)] string? SectionId,
    [property: Id(2)] string? RefType,
    [property: Id(3)] string? Reason);

[GenerateSerializer, Immutable, Alias("nexus.Citation")]
public sealed record Citation(
    [property: Id(0)] Guid DocumentId,
    [property: Id(1)] string FileName,
    [property: Id(2)] int ChunkIndex,
    [property: Id(3)] double Score,
    [property: Id(4)] string Snippet,
    [property: Id(5)] long ChunkId);

/// <summary>Modes of an answer: <c>llm</c>, <c>extractive</c> or <c>clarification</c>.</summary>
public static class AnswerModes
{
    public const string Llm = "llm";
    public const string Extractive = "extractive";
    public const string Clarification = "clarification";
}

[GenerateSerializer, Immutable, Alias("nexus.QueryResult")]
public sealed record QueryResult(
    [property: Id(0)] Guid QueryId,
    [property: Id(1)] string ThreadId,
    [property: Id(2)] string Mode,
    [property: Id(3)] string Answer,
    [property: Id(4)] ImmutableArray<SectionRef> Sections,
    [property: Id(5)] FollowUpInfo? FollowUp,
    [property: Id(6)] ImmutableArray<SectionRef> Choices,
    [property: Id(7)] ImmutableArray<Citation> Citations,
    [property: Id(8)] string? Model,
    [property: Id(9)] long LatencyMs,
    [property: Id(10)] string RetrievalQuery,
    [property: Id(11)] string SuiviStatus,
    [property: Id(12)] bool Cached = false);

/// <summary>Kinds of <see cref="QueryEvent"/>, in the order a stream sends them.</summary>
public static class QueryEventKinds
{
    public const string Delta = "delta";
    public const string Citations = "citations";
    public const string Done = "done";
    public const string Error = "error";
}

/// <summary>
/// One event of a streamed answer: <c>delta</c> (a piece of text), <c>citations</c>, then <c>done</c> with the whole
/// result; or <c>error</c> (stable code and message) when the answer could not be completed.
/// </summary>
[GenerateSerializer, Immutable, Alias("nexus.QueryEvent")]
public sealed record QueryEvent(
    [property: Id(0)] string Kind,
    [property: Id(1)] string? Text = null,
    [property: Id(2)] QueryResult? Result = null,
    [property: Id(3)] string? ErrorCode = null,
    [property: Id(4)] int? RetryAfterSeconds = null);

/// <summary>Serialises one conversation: follow-up resolution, retrieval, answer, outline.</summary>
[Alias("nexus.IThreadGrain")]
public interface IThreadGrain : IGrainWithStringKey
{
    /// <remarks>
    /// Longer than the tenant grain's LLM budget, so that a slow provider surfaces as its own error code. Interleaves like
    /// the streamed form's calls do, so that both wait in one queue inside the grain and run in the order they arrived.
    /// </remarks>
    [Alias("Ask"), ResponseTimeout("00:05:00"), AlwaysInterleave]
    Task<QueryResult> AskAsync(QueryRequest request, CancellationToken cancellationToken = default);

    /// <summary>The same answer, streamed as the model writes it; questions of one thread still run one at a time.</summary>
    [Alias("AskStream")]
    IAsyncEnumerable<QueryEvent> AskStreamAsync(QueryRequest request, CancellationToken cancellationToken = default);
}
