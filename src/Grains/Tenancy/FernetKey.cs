using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace AuroraNexus.Grains.Tenancy;

/// <summary>
/// A Fernet key: 32 bytes written as url-safe base64, the first 16 signing (HMAC-SHA256), the last 16 encrypting
/// (AES-128-CBC). <see cref="ToString"/> shows only the <see cref="Fingerprint"/>.
/// </summary>
public sealed class FernetKey
{
    public const int Size = 32;

    public const string Advice =
        "a Fernet key is 32 bytes in url-safe base64 (44 characters ending in '='); generate one with " +
        "`openssl rand -base64 32 | tr '+/' '-_'` or Python `Fernet.generate_key()`";

    private readonly byte[] _bytes;

    private FernetKey(byte[] bytes)
    {
        _bytes = bytes;
        Fingerprint = Convert.ToHexStringLower(SHA256.HashData(bytes))[..12];
    }

    /// <summary>First 12 hex digits of SHA-256 over the 32 key bytes: safe to log and to store beside a token.</summary>
    public string Fingerprint { get; }

    internal ReadOnlySpan<byte> SigningKey => _bytes.AsSpan(0, 16);

    internal ReadOnlySpan<byte> EncryptionKey => _bytes.AsSpan(16, 16);

    public static FernetKey Generate() => new(RandomNumberGenerator.GetBytes(Size));

    /// <summary>Reads a key; surrounding whitespace and missing <c>=</c> padding are accepted.</summary>
    /// <exception cref="FernetKeyFormatException">The text is not a 32-byte url-safe base64 key.</exception>
    public static FernetKey Parse(string text) =>
        TryParse(text, out var key, out var error) ? key : throw new FernetKeyFormatException(error);

    public static bool TryParse(string? text, [NotNullWhen(true)] out FernetKey? key, [NotNullWhen(false)] out string? error)
    {
        key = null;
        error = null;
        var t = text?.Trim() ?? "";
        if (Base64UrlText.TryDecode(t, out var bytes) && bytes.Length == Size)
        {
            key = new FernetKey(bytes);
        }
        else if (t.Length == 0)
        {
            error = $"the key is empty; {Advice}";
        }
        else if (t.All(char.IsAsciiHexDigit))
        {
            error = $"the key looks like hex ({t.Length} hex digits), not url-safe base64; {Advice}";
        }
        else if (t.AsSpan().IndexOfAny('+', '/') >= 0)
        {
            error = $"the key uses '+' or '/' of standard base64, not the url-safe '-' and '_'; {Advice}";
        }
        else if (bytes is null)
        {
            error = $"the key is not url-safe base64 ({t.Length} characters); {Advice}";
        }
        else
        {
            error = $"the key decodes to {bytes.Length} bytes instead of {Size}; {Advice}";
        }

        return key is not null;
    }

    /// <summary>The key as url-safe base64 with padding, the form <see cref="Parse"/> reads (to persist a generated key).</summary>
    public string Encode() => Base64UrlText.Encode(_bytes);

    public override string ToString() => $"FernetKey({Fingerprint})";
}

/// <summary>Url-safe base64 as Fernet writes it: <c>-_</c> alphabet, padded; read with or without padding.</summary>
internal static class Base64UrlText
{
    public static string Encode(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).Replace('+', '-').Replace('/', '_');

    /// <summary>Strict: only <c>A-Z a-z 0-9 - _</c>, then at most the padding the length calls for; no whitespace.</summary>
    public static bool TryDecode(string text, [NotNullWhen(true)] out byte[]? bytes)
    {
        bytes = null;
        var end = text.Length;
        var padding = 0;
        while (end > 0 && text[end - 1] == '=' && padding < 2)
        {
            end--;
            padding++;
        }

        if (end % 4 == 1 || (padding > 0 && (end + padding) % 4 != 0))
        {
            return false;
        }

        var body = text.AsSpan(0, end);
        foreach (var c in body)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_'))
            {
                return false;
            }
        }

        try
        {
            bytes = Base64Url.DecodeFromChars(body);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
