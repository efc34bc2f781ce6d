using System.Diagnostics.CodeAnalysis;

namespace AuroraNexus.Grains.Tenancy;

/// <summary>
/// The keys of <c>LLM_CREDENTIALS_ENC_KEY</c>, for rotation: the first encrypts, every one decrypts. Rotate by
/// putting the new key first and keeping the old ones after it until every stored token has been re-encrypted.
/// <see cref="ToString"/> shows fingerprints only.
/// </summary>
public sealed class FernetKeyRing
{
    private readonly FernetKey[] _keys;

    /// <exception cref="ArgumentException">No keys, or the same key twice.</exception>
    public FernetKeyRing(IEnumerable<FernetKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        _keys = [.. keys];
        if (_keys.Length == 0)
        {
            throw new ArgumentException("a key ring needs at least one key", nameof(keys));
        }

        if (_keys.DistinctBy(k => k.Fingerprint).Count() != _keys.Length)
        {
            throw new ArgumentException("a key ring cannot hold the same key twice", nameof(keys));
        }

        Fingerprints = Array.AsReadOnly(_keys.Select(k => k.Fingerprint).ToArray());
    }

    /// <summary>Fingerprints in list order; the first is <see cref="PrimaryFingerprint"/>.</summary>
    public IReadOnlyList<string> Fingerprints { get; }

    /// <summary>Fingerprint of the key that encrypts.</summary>
    public string PrimaryFingerprint => Fingerprints[0];

    /// <summary>
    /// Reads one key or a comma-separated list (whitespace around items ignored). Errors name the bad item's
    /// 1-based position and never repeat key text.
    /// </summary>
    /// <exception cref="FernetKeyFormatException">Empty value, empty item, bad key, or a key listed twice.</exception>
    public static FernetKeyRing Parse(string value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new FernetKeyFormatException($"no key is set; {FernetKey.Advice}");
        }

        var items = value.Split(',', StringSplitOptions.TrimEntries);
        var keys = new List<FernetKey>(items.Length);
        for (var i = 0; i < items.Length; i++)
        {
            var position = i + 1;
            var where = items.Length == 1 ? "" : $"item {position} of {items.Length}: ";
            if (items[i].Length == 0)
            {
                throw new FernetKeyFormatException(
                    $"{where}the key is empty (two commas in a row, or a comma at either end?); {FernetKey.Advice}", position);
            }

            if (!FernetKey.TryParse(items[i], out var key, out var error))
            {
                throw new FernetKeyFormatException(where + error, position);
            }

            var same = keys.FindIndex(k => k.Fingerprint == key.Fingerprint);
            if (same >= 0)
            {
                throw new FernetKeyFormatException(
                    $"{where}the same key as item {same + 1} (fingerprint {key.Fingerprint}); list each key once", position);
            }

            keys.Add(key);
        }

        return new FernetKeyRing(keys);
    }

    public bool Contains(string fingerprint) => Fingerprints.Contains(fingerprint, StringComparer.Ordinal);

    /// <summary>Encrypts UTF-8 text with the primary key; store the fingerprint beside the token as a decryption hint.</summary>
    public (string Token, string Fingerprint) Encrypt(string plaintext) =>
        (Fernet.Encrypt(_keys[0], plaintext), _keys[0].Fingerprint);

    /// <summary>
    /// Decrypts with the key named by <paramref name="fingerprintHint"/> first, then the others in list order, and
    /// reports which key worked. False when none does or the token is malformed. No time-to-live is checked.
    /// </summary>
    public bool TryDecrypt(
        string token,
        string? fingerprintHint,
        [MaybeNullWhen(false)] out string plaintext,
        [NotNullWhen(true)] out string? usedFingerprint)
    {
        ArgumentNullException.ThrowIfNull(token);
        foreach (var key in DecryptionOrder(fingerprintHint))
        {
            try
            {
                plaintext = Fernet.DecryptString(key, token);
                usedFingerprint = key.Fingerprint;
                return true;
            }
            catch (FernetTokenException e) when (e.Reason == FernetTokenFailure.InvalidMac)
            {
                // Another key may have made it.
            }
            catch (FernetTokenException)
            {
                // Malformed, or authentic but unreadable: no other key changes that.
                break;
            }
        }

        plaintext = null;
        usedFingerprint = null;
        return false;
    }

    /// <summary>The hinted key first (when the ring has it), then the others in list order.</summary>
    internal IEnumerable<FernetKey> DecryptionOrder(string? fingerprintHint)
    {
        var hinted = Array.FindIndex(_keys, k => k.Fingerprint == fingerprintHint);
        return hinted < 0 ? _keys : [_keys[hinted], .. _keys.Where((_, i) => i != hinted)];
    }

    public override string ToString() =>
        $"FernetKeyRing({_keys.Length} key{(_keys.Length == 1 ? "" : "s")}, primary {PrimaryFingerprint})";
}
