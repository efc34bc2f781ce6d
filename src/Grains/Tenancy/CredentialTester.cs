using System.Diagnostics;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Llm;
using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.Logging;

namespace AuroraNexus.Grains.Tenancy;

/// <summary>
/// The credential test: one cheap authenticated call with a stored key, its outcome recorded on the credential. The
/// tenant grain runs it for <c>POST /api/admin/providers/credentials/{id}/test</c>, the doctor for every credential
/// (<c>doctor --test-credentials</c>); both therefore see and record the same verdict.
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
            var endpoint = Endpoint(tenantId, provider, row, key, nexus.LlmModel);
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (timeout is { } limit)
            {
                bounded.CancelAfter(limit);
            }

            try
            {
                var check = await client.CheckKeyAsync(endpoint, bounded.Token);
                result = new CredentialTestResult(row.Id, "ok",
                    $"{provider.Name} accepted the key {endpoint.MaskedKey} ({check.CheckedPath})", check.Label,
                    watch.ElapsedMilliseconds, [.. check.Warnings]);
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

        await catalog.RecordTestAsync(tenantId, row.Id, result.Status, result.Message, ct);
        LogCredentialTested(logger, tenantId, row.Label, result.Status);
        return result;
    }

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
