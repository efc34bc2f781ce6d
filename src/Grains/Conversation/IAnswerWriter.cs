using AuroraNexus.Grains.Tenancy;

namespace AuroraNexus.Grains.Conversation;

public sealed record WrittenAnswer(string Text, string Model);

/// <summary>A piece of a streamed answer; the last one has <see cref="IsFinal"/> set and names the model.</summary>
public sealed record AnswerPiece(string Text, bool IsFinal = false, string? Model = null);

/// <summary>Writes a grounded answer with a chat model; null (or an empty stream) when the tenant has no model.</summary>
public interface IAnswerWriter
{
    Task<WrittenAnswer?> WriteAsync(
        string tenantId, string question, IReadOnlyList<Passage> passages, string? focusSectionTitle, TenantSettings settings,
        CancellationToken cancellationToken);

    /// <summary>Throws <see cref="Llm.LlmException"/> (e.g. <c>stream_incomplete</c>) after the pieces already yielded.</summary>
    IAsyncEnumerable<AnswerPiece> StreamAsync(
        string tenantId, string question, IReadOnlyList<Passage> passages, string? focusSectionTitle, TenantSettings settings,
        CancellationToken cancellationToken);
}
