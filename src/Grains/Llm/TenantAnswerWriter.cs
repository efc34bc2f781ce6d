using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using AuroraNexus.Grains.Conversation;
using AuroraNexus.Grains.Tenancy;

namespace AuroraNexus.Grains.Llm;

/// <summary>Writes answers with the tenant's own model, through its tenant grain; nothing when the tenant has none.</summary>
public sealed class TenantAnswerWriter(IGrainFactory grains) : IAnswerWriter
{
    public async Task<WrittenAnswer?> WriteAsync(
        string tenantId, string question, IReadOnlyList<Passage> passages, string? focusSectionTitle, TenantSettings tenantSettings,
        CancellationToken cancellationToken)
    {
        var reply = await grains.GetGrain<ITenantGrain>(tenantId).CompleteAsync(
            Request(question, passages, focusSectionTitle, tenantSettings), cancellationToken);
        return reply is null ? null : new WrittenAnswer(reply.Content, reply.Model);
    }

    public async IAsyncEnumerable<AnswerPiece> StreamAsync(
        string tenantId, string question, IReadOnlyList<Passage> passages, string? focusSectionTitle, TenantSettings tenantSettings,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var delta in grains.GetGrain<ITenantGrain>(tenantId)
                           .StreamAsync(Request(question, passages, focusSectionTitle, tenantSettings), cancellationToken))
        {
            yield return delta.IsFinal ? new AnswerPiece("", true, delta.Model) : new AnswerPiece(delta.Content);
        }
    }

    private static LlmRequest Request(string question, IReadOnlyList<Passage> passages, string? focusSectionTitle, TenantSettings settings)
    {
        var messages = AnswerPrompt.Build(question, [.. passages.Select(p => (p.FileName, p.Text))], focusSectionTitle, settings.SystemPrompt);
        return new LlmRequest([.. messages.Select(m => new LlmMessage(m.Role, m.Content))]);
    }
}
