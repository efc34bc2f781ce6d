using AuroraNexus.Grains.Conversation;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Tenancy;

namespace AuroraNexus.Grains.Llm;

/// <summary>
/// Writes answers with the bootstrap model of <c>OPENROUTER_API_KEY</c> (and <c>LLM_BASE_URL</c>/<c>LLM_MODEL</c>/
/// <c>LLM_PROVIDER_KIND</c>) until tenants have credentials of their own; without a key there is no model and answers are
/// extractive. The endpoint has no credential label, so errors point at <c>OPENROUTER_API_KEY</c>.
/// </summary>
public sealed class BootstrapAnswerWriter(NexusSettings settings, ChatCompletionsClient client) : IAnswerWriter
{
    private readonly LlmEndpoint? _endpoint = settings.OpenRouterApiKey is { } key
        ? new LlmEndpoint(settings.LlmBaseUrl, key, settings.LlmModel, settings.PublicDomain, "Aurora Nexus")
        {
            Kind = settings.LlmProviderKind,
        }
        : null;

    public async Task<WrittenAnswer?> WriteAsync(
        string tenantId, string question, IReadOnlyList<Passage> passages, string? focusSectionTitle, TenantSettings tenantSettings,
        CancellationToken cancellationToken)
    {
        if (_endpoint is null)
        {
            return null;
        }

        var messages = AnswerPrompt.Build(question, [.. passages.Select(p => (p.FileName, p.Text))], focusSectionTitle,
            tenantSettings.SystemPrompt);
        var result = await client.CompleteAsync(_endpoint with { TenantId = tenantId }, messages, ChatOptions.Default, cancellationToken);
        return new WrittenAnswer(result.Content, result.Model);
    }
}
