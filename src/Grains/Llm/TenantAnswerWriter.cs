using AuroraNexus.Grains.Conversation;
using AuroraNexus.Grains.Tenancy;

namespace AuroraNexus.Grains.Llm;

/// <summary>Writes answers with the tenant's own model, through its tenant grain; null when the tenant has none.</summary>
public sealed class TenantAnswerWriter(IGrainFactory grains) : IAnswerWriter
{
    public async Task<WrittenAnswer?> WriteAsync(
        string tenantId, string question, IReadOnlyList<Passage> passages, string? focusSectionTitle, TenantSettings tenantSettings,
        CancellationToken cancellationToken)
    {
        var messages = AnswerPrompt.Build(question, [.. passages.Select(p => (p.FileName, p.Text))], focusSectionTitle,
            tenantSettings.SystemPrompt);
        var reply = await grains.GetGrain<ITenantGrain>(tenantId).CompleteAsync(
            new LlmRequest([.. messages.Select(m => new LlmMessage(m.Role, m.Content))]), cancellationToken);
        return reply is null ? null : new WrittenAnswer(reply.Content, reply.Model);
    }
}
