using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Llm;
using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;

namespace AuroraNexus.Grains.Tenancy;

/// <summary>
/// A tenant's settings and LLM gateway. The route (provider, model, decrypted key) is built once per activation and
/// kept in memory only: the grain has no persistent state, and the key leaves it only inside the HTTPS request to the
/// provider. Deactivation and <see cref="InvalidateAsync"/> drop it.
/// </summary>
[Reentrant]
public sealed partial class TenantGrain(
    SettingsRepository settings,
    LlmCatalogRepository catalog,
    ChatCompletionsClient client,
    CredentialTester tester,
    NexusSettings nexus,
    ILogger<TenantGrain> logger) : Grain, ITenantGrain
{
    private const string AppTitle = CredentialTester.AppTitle;

    private TenantSettings? _settings;
    private Task<Gateway>? _gateway;

    private string TenantId => this.GetPrimaryKeyString();

    public async Task<TenantSettings> GetSettingsAsync(CancellationToken cancellationToken = default) =>
        _settings ??= await settings.LoadAsync(TenantId, cancellationToken);

    public Task InvalidateAsync(CancellationToken cancellationToken = default)
    {
        _settings = null;
        _gateway = null;
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _gateway = null;
        return Task.CompletedTask;
    }

    public async Task<LlmRoute> GetRouteAsync(CancellationToken cancellationToken = default) =>
        (await GatewayAsync(cancellationToken)).Route;

    public async Task<LlmReply?> CompleteAsync(LlmRequest request, CancellationToken cancellationToken = default)
    {
        var gateway = await GatewayAsync(cancellationToken);
        var endpoint = gateway.EndpointOrThrow(request.Model);
        if (endpoint is null)
        {
            return null;
        }

        var result = await client.CompleteAsync(endpoint, ToMessages(request), Options(request), cancellationToken);
        return new LlmReply(result.Content, result.Model, result.FinishReason, result.GenerationId, result.PromptTokens,
            result.CompletionTokens, result.Attempts, [.. result.Warnings]);
    }

    public async IAsyncEnumerable<LlmDelta> StreamAsync(
        LlmRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var gateway = await GatewayAsync(cancellationToken);
        var endpoint = gateway.EndpointOrThrow(request.Model);
        if (endpoint is null)
        {
            yield break;
        }

        await foreach (var delta in client.StreamAsync(endpoint, ToMessages(request), Options(request), cancellationToken))
        {
            yield return delta.IsFinal
                ? new LlmDelta("", true, delta.FinishReason, delta.Model, delta.GenerationId,
                    delta.Usage?.PromptTokens ?? 0, delta.Usage?.CompletionTokens ?? 0)
                : new LlmDelta(delta.Content);
        }
    }

    public Task<CredentialTestResult> TestCredentialAsync(Guid credentialId, CancellationToken cancellationToken = default) =>
        tester.TestAsync(TenantId, credentialId, timeout: null, cancellationToken);

    private Task<Gateway> GatewayAsync(CancellationToken ct)
    {
        var current = _gateway;
        if (current is null || current.IsFaulted || current.IsCanceled)
        {
            // Cached as a task so that concurrent first calls share one load and one decryption.
            current = _gateway = LoadGatewayAsync(ct);
        }

        return current;
    }

    private async Task<Gateway> LoadGatewayAsync(CancellationToken ct)
    {
        var tenant = TenantId;
        var data = await catalog.LoadCatalogAsync(tenant, ct);
        var providers = data.Providers.ToDictionary(p => p.Id);
        var defaultModel = data.Models.FirstOrDefault(m => m.IsDefault);

        ProviderRow? provider = null;
        CredentialRow? credential = null;
        if (defaultModel is not null && providers.TryGetValue(defaultModel.ProviderId, out var modelProvider))
        {
            provider = modelProvider;
            credential = data.Credentials.FirstOrDefault(c => c.ProviderId == provider.Id);
        }
        else
        {
            // No default model: a credential answers if its provider names a model, or is OpenRouter (LLM_MODEL runs there).
            credential = data.Credentials
                .Where(c => providers.TryGetValue(c.ProviderId, out var p) && (p.Kind == "openrouter" || data.Models.Any(m => m.ProviderId == p.Id)))
                .OrderBy(c => providers[c.ProviderId].Kind == "openrouter" ? 0 : 1)
                .ThenBy(c => c.Label, StringComparer.Ordinal)
                .FirstOrDefault();
            provider = credential is null ? null : providers[credential.ProviderId];
        }

        Gateway gateway;
        var blocked = provider is null ? null : await EndpointGuard.ProblemAsync(provider.BaseUrl, nexus.AllowPrivateLlmUrls, ct);
        if (provider is not null && blocked is not null)
        {
            var error = new LlmException(LlmErrorCode.ProviderBadRequest, $"Tenant '{tenant}', provider '{provider.Name}': {blocked}");
            gateway = new Gateway(
                new LlmRoute(error.ErrorCode, provider.Name, provider.Kind, provider.BaseUrl, defaultModel?.Model, credential?.Id,
                    credential?.Label, null, error.Message),
                null, error);
        }
        else if (credential is not null && provider is not null)
        {
            var model = CredentialTester.ModelFor(provider, data.Models, nexus.LlmModel);
            if (nexus.CredentialKeys.TryDecrypt(credential.Token, credential.KeyFingerprint, out var key, out _))
            {
                var endpoint = Endpoint(provider, credential, key, model);
                gateway = new Gateway(
                    new LlmRoute("tenant_credential", provider.Name, provider.Kind, provider.BaseUrl, model, credential.Id,
                        credential.Label, LlmEndpoint.MaskKey(key), null),
                    endpoint, null);
            }
            else
            {
                var error = LlmException.CredentialUnreadable(tenant, credential.Label, credential.KeyFingerprint, nexus.CredentialKeys.Fingerprints);
                LogCredentialUnreadable(logger, tenant, credential.Label, credential.KeyFingerprint, string.Join(", ", nexus.CredentialKeys.Fingerprints));
                gateway = new Gateway(
                    new LlmRoute(error.ErrorCode, provider.Name, provider.Kind, provider.BaseUrl, model, credential.Id,
                        credential.Label, "****" + credential.SecretHint, error.Message),
                    null, error);
            }
        }
        else if (provider is not null && defaultModel is not null)
        {
            var error = new LlmException(LlmErrorCode.CredentialMissing,
                $"Tenant '{tenant}' answers with {defaultModel.Model} on provider '{provider.Name}', which has no credential: add the " +
                "key in Admin → Providers → Credentials (POST /api/admin/providers/credentials), or choose another default model.");
            gateway = new Gateway(
                new LlmRoute(error.ErrorCode, provider.Name, provider.Kind, provider.BaseUrl, defaultModel.Model, null, null, null, error.Message),
                null, error);
        }
        else if (tenant == UserRepository.DefaultTenant && nexus.OpenRouterApiKey is { } bootstrapKey)
        {
            // OPENROUTER_API_KEY serves the bootstrap tenant until it has a credential of its own; other tenants bring theirs.
            var endpoint = new LlmEndpoint(nexus.LlmBaseUrl, bootstrapKey, nexus.LlmModel, nexus.PublicDomain, AppTitle)
            {
                TenantId = tenant,
                Kind = nexus.LlmProviderKind,
            };
            gateway = new Gateway(
                new LlmRoute("bootstrap", "OPENROUTER_API_KEY", endpoint.ProviderKind.ToCode(),
                    nexus.LlmBaseUrl, nexus.LlmModel, null, null, endpoint.MaskedKey, null),
                endpoint, null);
        }
        else
        {
            gateway = new Gateway(new LlmRoute("none", null, null, null, null, null, null, null,
                "No LLM credential: answers are extractive. Add one in Admin → Providers → Credentials."), null, null);
        }

        LogRoute(logger, tenant, gateway.Route.Source, gateway.Route.ProviderName ?? "-", gateway.Route.Model ?? "-",
            gateway.Route.CredentialLabel ?? "-", gateway.Route.KeyHint ?? "-");
        return gateway;
    }

    private LlmEndpoint Endpoint(ProviderRow provider, CredentialRow credential, string key, string model) =>
        CredentialTester.Endpoint(TenantId, provider, credential, key, model, nexus);

    private static IReadOnlyList<ChatMessage> ToMessages(LlmRequest request) =>
        [.. request.Messages.Select(m => new ChatMessage(m.Role, m.Content))];

    private ChatOptions Options(LlmRequest request) =>
        ChatOptions.Default with { Temperature = request.Temperature, MaxTokens = request.MaxTokens, Timeout = nexus.LlmTimeout };

    /// <summary>The loaded route; the endpoint (with the key) exists only when calls can be made.</summary>
    private sealed record Gateway(LlmRoute Route, LlmEndpoint? Endpoint, LlmException? Error)
    {
        public LlmEndpoint? EndpointOrThrow(string? model)
        {
            if (Error is not null)
            {
                // A fresh exception per call: the cached one is shared by concurrent callers.
                throw new LlmException(Error.Code, Error.Message);
            }

            return Endpoint is null || string.IsNullOrWhiteSpace(model) ? Endpoint : Endpoint with { Model = model };
        }

        // The endpoint's own ToString masks the key; this keeps the record's generated one from listing it at all.
        public override string ToString() => $"Gateway {{ Route = {Route} }}";
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Tenant {Tenant} LLM route: {Source} provider={Provider} model={Model} credential={Credential} key={KeyHint}")]
    private static partial void LogRoute(ILogger logger, string tenant, string source, string provider, string model, string credential, string keyHint);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Tenant {Tenant} credential '{Credential}' is unreadable: encrypted with key {Needed}, configured keys {Configured}")]
    private static partial void LogCredentialUnreadable(ILogger logger, string tenant, string credential, string needed, string configured);
}
