using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Storage;

namespace AuroraNexus.Grains.Tenancy;

/// <summary>What an admin may see of a stored credential: never the key, its last 4 characters at most.</summary>
public sealed record CredentialView(
    Guid Id, Guid ProviderId, string ProviderName, string Label, string MaskedKey, string Status, string KeyFingerprint,
    IReadOnlyList<string> ConfiguredFingerprints, string? Problem, string? LastTestStatus, string? LastTestMessage,
    DateTimeOffset? LastTestedAt, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <param name="UnreadableFingerprints">The key fingerprints recorded on the credentials no configured key could read.</param>
public sealed record RotationReport(
    int Total, int Rotated, int AlreadyCurrent, int Unreadable, int Changed, string PrimaryFingerprint,
    IReadOnlyList<string> UnreadableFingerprints);

/// <summary>Encrypts credentials with LLM_CREDENTIALS_ENC_KEY, describes them without revealing them, and rotates keys.</summary>
public sealed class CredentialVault(FernetKeyRing keys, LlmCatalogRepository catalog)
{
    /// <summary>Provider keys are tens of characters (OpenRouter's 73); far more is a paste of something else.</summary>
    public const int MaxKeyLength = 512;

    /// <summary>Trims the key as pasted and rejects what cannot be a key; returns the problem, or null when usable.</summary>
    public static string? Validate(string? apiKey, out string trimmed)
    {
        trimmed = (apiKey ?? "").Trim();
        if (trimmed.Length == 0)
        {
            return "api_key is empty: paste the provider's key (for OpenRouter it starts with sk-or-v1-).";
        }

        if (trimmed.Length > MaxKeyLength)
        {
            return $"api_key is longer than {MaxKeyLength} characters ({trimmed.Length}): paste the key alone, not a file or a page.";
        }

        if (trimmed.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            return "api_key contains spaces or line breaks inside it: paste the key alone, in one piece.";
        }

        if (trimmed.Any(c => char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format))
        {
            return "api_key contains invisible characters (such as a zero-width space pasted with it): paste the key alone.";
        }

        if (NexusSettings.IsPlaceholder(trimmed) || trimmed.Contains("...", StringComparison.Ordinal) ||
            trimmed.Contains('…') || trimmed.EndsWith("-", StringComparison.Ordinal))
        {
            return $"api_key looks like a placeholder or a shortened key, not a real key: paste the whole key.";
        }

        return trimmed.Length < 8 ? "api_key is too short to be a provider key: paste the whole key." : null;
    }

    public (string Token, string Fingerprint, string Hint) Seal(string apiKey)
    {
        var (token, fingerprint) = keys.Encrypt(apiKey);
        return (token, fingerprint, apiKey.Length >= 12 ? apiKey[^4..] : "");
    }

    public CredentialView Describe(CredentialRow row, string providerName)
    {
        var readable = keys.TryDecrypt(row.Token, row.KeyFingerprint, out _, out _);
        string? problem = null;
        if (!readable)
        {
            problem = keys.Contains(row.KeyFingerprint)
                ? $"The stored token is damaged (it does not verify with key {row.KeyFingerprint}, which is configured): enter the key again."
                : $"Encrypted with key {row.KeyFingerprint}, which LLM_CREDENTIALS_ENC_KEY does not hold (configured: " +
                  $"{string.Join(", ", keys.Fingerprints)}): add that key back after the current one and run rotate-credentials-key, or enter the key again.";
        }

        return new CredentialView(
            row.Id, row.ProviderId, providerName, row.Label, row.SecretHint.Length == 4 ? "****" + row.SecretHint : "****",
            readable ? "readable" : "unreadable", row.KeyFingerprint, keys.Fingerprints, problem,
            row.LastTestStatus, row.LastTestMessage, row.LastTestedAt, row.CreatedAt, row.UpdatedAt);
    }

    /// <summary>Re-encrypts every credential that is not yet under the first key; unreadable ones are counted, not touched.</summary>
    public async Task<RotationReport> RotateAsync(Func<string, Task>? onTenantChanged, CancellationToken ct)
    {
        int rotated = 0, current = 0, unreadable = 0, changed = 0;
        var needed = new SortedSet<string>(StringComparer.Ordinal);
        var tokens = await catalog.ListAllTokensAsync(ct);
        var touched = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (id, tenant, token, fingerprint) in tokens)
        {
            if (!keys.TryDecrypt(token, fingerprint, out var plaintext, out var used))
            {
                unreadable++;
                needed.Add(fingerprint);
                continue;
            }

            if (used == keys.PrimaryFingerprint && fingerprint == keys.PrimaryFingerprint)
            {
                current++;
                continue;
            }

            var (fresh, freshFingerprint) = keys.Encrypt(plaintext);
            if (await catalog.ReplaceTokenAsync(id, tenant, token, fresh, freshFingerprint, ct))
            {
                rotated++;
                touched.Add(tenant);
            }
            else
            {
                changed++;
            }
        }

        if (onTenantChanged is not null)
        {
            foreach (var tenant in touched)
            {
                await onTenantChanged(tenant);
            }
        }

        return new RotationReport(tokens.Count, rotated, current, unreadable, changed, keys.PrimaryFingerprint, [.. needed]);
    }
}
