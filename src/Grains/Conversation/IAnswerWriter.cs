using AuroraNexus.Grains.Tenancy;

namespace AuroraNexus.Grains.Conversation;

public sealed record WrittenAnswer(string Text, string Model);

/// <summary>Writes a grounded answer with a chat model; returns null when no model is configured for the tenant.</summary>
public interface IAnswerWriter
{
    Task<WrittenAnswer?> WriteAsync(
        string tenantId, string question, IReadOnlyList<Passage> passages, string? focusSectionTitle, TenantSettings settings,
        CancellationToken cancellationToken);
}
