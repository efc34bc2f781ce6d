using System.Diagnostics;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Llm;
using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.Logging;

namespace AuroraNexus.Grains.Tenancy;

/// <summary>
/// The credential test: one cheap authenticated call with a stored key, its outcome recorded on the credential. The
/// tenant grain runs it for <c>POST /api/admin/providers/credentials/{id}/test</c>, the doctor for every credential
/// (<c>doctor --test-credentials</c>); both therefore see and record the same verdict. The call is made, and its result
/// named, with the model the tenant's queries would use through this credential, not the environment's LLM_MODEL.
/// </summary>
public sealed partial class CredentialTester(
    LlmCatalogRepository catalog, ChatCompletionsClient client, NexusSettings nexus, ILogger<CredentialTester> logger)
{
    public const string AppTitle = "Aurora Nexus";

    /// <param name="timeout">A bound on the provider call; past it the outcome is <c>provider_unavailable</c>, recorded like any other.</param>
    /// <exception cref="KeyNotFoundException">The credential, or its provider, is not the tenant's (or is gone).</exception>
    public async Task<CredentialTestResult> TestAsync(string tenantId, Guid credentialId, TimeSpan? timeout, CancellationToken ct)
    {
        var row = await catalog.GetCredentialAsync(tenantId, credentialId, ct)
            ?? throw new KeyNotFoundException($"No credential {credentialId} in tenant '{tenantId}'.");
        var provider = await catalog.GetProviderAsync(tenantId, row.ProviderId, ct)
            ?? throw new KeyNotFoundException($"The provider of credential {credentialId} is gone.");
        var model = ModelFor(provider, await catalog.ListModelsAsync(tenantId, ct), nexus.LlmModel);
        var watch = Stopwatch.StartNew();
        CredentialTestResult result;
        if (await EndpointGuard.ProblemAsync(provider.BaseUrl, nexus.AllowPrivateLlmUrls, ct) is { } blocked)
        {
            result = new CredentialTestResult(row.Id, LlmErrorCode.ProviderBadRequest.ToCode(), blocked, null, 0, []);
        }
        else if (!nexus.CredentialKeys.TryDecrypt(row.Token, row.KeyFingerprint, out var key, out _))
        {
            var error = LlmException.CredentialUnreadable(tenantId, row.Label, row.KeyFingerprint, nexus.CredentialKeys.Fingerprints);
            result = new CredentialTestResult(row.Id, error.ErrorCode, error.Message, null, 0, []);
        }
        else
        {
            var endpoint = Endpoint(tenantId, provider, row, key, model);
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (timeout is { } limit)
            {
                bounded.CancelAfter(limit);
            }

            try
            {
                var check = await client.CheckKeyAsync(endpoint, bounded.Token);
                var warnings = check.Warnings.ToList();
                if (check.ModelIds is { Count: > 0 } listed && !listed.Contains(model, StringComparer.Ordinal))
                {
                    warnings.Add($"model_not_listed: {provider.Name} does not list the model '{model}' in GET {check.CheckedPath}, so " +
                        "queries with it may be refused (provider_bad_request); check its name in Admin → Providers → Models.");
                }

                result = new CredentialTestResult(row.Id, "ok",
                    $"{provider.Name} accepted the key {endpoint.MaskedKey} ({check.CheckedPath}); queries use the model '{model}'",
                    check.Label, watch.ElapsedMilliseconds, [.. warnings]);
            }
            catch (LlmException ex)
            {
                result = new CredentialTestResult(row.Id, ex.ErrorCode, ex.Message, null, watch.ElapsedMilliseconds, []);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                result = new CredentialTestResult(row.Id, LlmErrorCode.ProviderUnavailable.ToCode(),
                    $"{provider.Name} did not answer the key check within {timeout!.Value.TotalSeconds:0} s ({provider.BaseUrl})",
                    null, watch.ElapsedMilliseconds, []);
            }
        }

        result = result with { Model = model };
        await catalog.RecordTestAsync(tenantId, row.Id, result.Status, result.Message, ct);
        LogCredentialTested(logger, tenantId, row.Label, result.Status);
        return result;
    }

    /// <summary>
    /// The model a tenant's queries use through a credential of <paramref name="provider"/>: the tenant's default model
    /// when it is this provider's, else the first model listed for the provider, else <paramref name="fallback"/> (LLM_MODEL).
    /// </summary>
    public static string ModelFor(ProviderRow provider, IReadOnlyList<ModelRow> models, string fallback) =>
        models.FirstOrDefault(m => m.IsDefault && m.ProviderId == provider.Id)?.Model
        ?? models.FirstOrDefault(m => m.ProviderId == provider.Id)?.Model
        ?? fallback;

    /// <summary>The endpoint a tenant's credential calls: the provider's URL and declared kind, attribution headers, the label for messages.</summary>
    public static LlmEndpoint Endpoint(string tenantId, ProviderRow provider, CredentialRow credential, string key, string model, NexusSettings nexus) =>
        new(provider.BaseUrl, key, model, nexus.PublicDomain, AppTitle)
        {
            TenantId = tenantId,
            CredentialLabel = credential.Label,
            Kind = LlmProviderKinds.TryParse(provider.Kind, out var kind) ? kind : null,
        };

    private LlmEndpoint Endpoint(string tenantId, ProviderRow provider, CredentialRow credential, string key, string model) =>
        Endpoint(tenantId, provider, credential, key, model, nexus);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tenant {Tenant} credential '{Credential}' tested: {Status}")]
    private static partial void LogCredentialTested(ILogger logger, string tenant, string credential, string status);
}
