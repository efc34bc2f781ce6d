using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace AuroraNexus.Grains.Tenancy;

/// <summary>
/// Fernet tokens (fernet/spec), readable by Python's <c>cryptography.fernet</c> and the other implementations:
/// base64url(0x80 | 8-byte big-endian unix seconds | 16-byte IV | AES-128-CBC/PKCS7 ciphertext | HMAC-SHA256).
/// </summary>
public static class Fernet
{
    private const byte Version = 0x80;
    private const int HeaderSize = 1 + 8 + IvSize;
    private const int IvSize = 16;
    private const int MacSize = 32;
    private const int BlockSize = 16;

    /// <summary>How far ahead of the reader's clock a token's timestamp may be, when a time-to-live is checked.</summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromSeconds(60);

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <param name="now">Timestamp written in the token; the current time when null.</param>
    /// <param name="iv">16 bytes; random when empty. Give one only to reproduce known tokens.</param>
    public static string Encrypt(FernetKey key, ReadOnlySpan<byte> plaintext, DateTimeOffset? now = null, ReadOnlySpan<byte> iv = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!iv.IsEmpty && iv.Length != IvSize)
        {
            throw new ArgumentException($"the IV must be {IvSize} bytes (it has {iv.Length})", nameof(iv));
        }

        var seconds = (now ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        ArgumentOutOfRangeException.ThrowIfNegative(seconds, nameof(now));

        using var aes = Aes.Create();
        aes.Key = key.EncryptionKey.ToArray();
        var cipherLength = aes.GetCiphertextLengthCbc(plaintext.Length);
        var token = new byte[HeaderSize + cipherLength + MacSize];
        token[0] = Version;
        BinaryPrimitives.WriteUInt64BigEndian(token.AsSpan(1, 8), (ulong)seconds);
        var tokenIv = token.AsSpan(9, IvSize);
        if (iv.IsEmpty)
        {
            RandomNumberGenerator.Fill(tokenIv);
        }
        else
        {
            iv.CopyTo(tokenIv);
        }

        aes.EncryptCbc(plaintext, tokenIv, token.AsSpan(HeaderSize, cipherLength));
        HMACSHA256.HashData(key.SigningKey, token.AsSpan(0, token.Length - MacSize), token.AsSpan(token.Length - MacSize));
        return Base64UrlText.Encode(token);
    }

    public static string Encrypt(FernetKey key, string plaintext, DateTimeOffset? now = null, ReadOnlySpan<byte> iv = default)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        return Encrypt(key, Encoding.UTF8.GetBytes(plaintext), now, iv);
    }

    /// <summary>
    /// Checks and decrypts a token. With <paramref name="ttl"/>, a token older than it, or dated more than
    /// <see cref="MaxClockSkew"/> ahead of <paramref name="now"/>, is rejected; without, age is not checked (as Python's
    /// <c>Fernet.decrypt(token)</c>). The MAC is checked before the timestamp, so Expired means an authentic token.
    /// </summary>
    /// <exception cref="FernetTokenException">The token is malformed, forged, made with another key, or out of date.</exception>
    public static byte[] Decrypt(FernetKey key, string token, TimeSpan? ttl = null, DateTimeOffset? now = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(token);
        if (ttl < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "the time-to-live cannot be negative");
        }

        if (!Base64UrlText.TryDecode(token, out var data))
        {
            throw new FernetTokenException(FernetTokenFailure.InvalidBase64);
        }

        if (data.Length == 0)
        {
            throw new FernetTokenException(FernetTokenFailure.TooShort);
        }

        if (data[0] != Version)
        {
            throw new FernetTokenException(FernetTokenFailure.BadVersion);
        }

        var cipherLength = data.Length - HeaderSize - MacSize;
        if (cipherLength <= 0)
        {
            throw new FernetTokenException(FernetTokenFailure.TooShort);
        }

        if (cipherLength % BlockSize != 0)
        {
            throw new FernetTokenException(FernetTokenFailure.BadPayloadSize);
        }

        Span<byte> mac = stackalloc byte[MacSize];
        HMACSHA256.HashData(key.SigningKey, data.AsSpan(0, data.Length - MacSize), mac);
        if (!CryptographicOperations.FixedTimeEquals(mac, data.AsSpan(data.Length - MacSize)))
        {
            throw new FernetTokenException(FernetTokenFailure.InvalidMac);
        }

        if (ttl is { } maxAge)
        {
            // Int128: the timestamp is an unsigned 64-bit field and may be anything in a forged-but-authentic token.
            Int128 stamp = BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(1, 8));
            Int128 clock = (now ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
            if ((double)(clock - stamp) > maxAge.TotalSeconds)
            {
                throw new FernetTokenException(FernetTokenFailure.Expired);
            }

            if ((double)(stamp - clock) > MaxClockSkew.TotalSeconds)
            {
                throw new FernetTokenException(FernetTokenFailure.FromTheFuture);
            }
        }

        // Unpadded decryption, then PKCS7 checked here: a typed failure instead of a CryptographicException.
        // No padding oracle: only tokens with a valid MAC get this far.
        using var aes = Aes.Create();
        aes.Key = key.EncryptionKey.ToArray();
        var padded = aes.DecryptCbc(data.AsSpan(HeaderSize, cipherLength), data.AsSpan(9, IvSize), PaddingMode.None);
        try
        {
            var pad = padded[^1];
            if (pad is 0 or > BlockSize || padded.AsSpan(padded.Length - pad).ContainsAnyExcept(pad))
            {
                throw new FernetTokenException(FernetTokenFailure.BadPadding);
            }

            return padded[..^pad];
        }
        finally
        {
            CryptographicOperations.ZeroMemory(padded);
        }
    }

    /// <exception cref="FernetTokenException">As <see cref="Decrypt"/>, or InvalidUtf8 when the plaintext is not text.</exception>
    public static string DecryptString(FernetKey key, string token, TimeSpan? ttl = null, DateTimeOffset? now = null)
    {
        var bytes = Decrypt(key, token, ttl, now);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new FernetTokenException(FernetTokenFailure.InvalidUtf8);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }
}
