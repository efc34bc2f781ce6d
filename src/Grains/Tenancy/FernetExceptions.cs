namespace AuroraNexus.Grains.Tenancy;

/// <summary>Why a Fernet token was rejected.</summary>
public enum FernetTokenFailure
{
    /// <summary>Not url-safe base64 (alphabet <c>A-Z a-z 0-9 - _</c>, optional <c>=</c> padding).</summary>
    InvalidBase64,

    /// <summary>Too few bytes for version, timestamp, IV, one cipher block and HMAC.</summary>
    TooShort,

    /// <summary>The first byte is not 0x80.</summary>
    BadVersion,

    /// <summary>The HMAC does not match: the token was altered, or was made with another key.</summary>
    InvalidMac,

    /// <summary>The ciphertext is not a whole number of 16-byte AES blocks.</summary>
    BadPayloadSize,

    /// <summary>The decrypted bytes do not end in valid PKCS7 padding.</summary>
    BadPadding,

    /// <summary>Older than the time-to-live the caller asked for.</summary>
    Expired,

    /// <summary>Timestamp more than 60 s ahead of the caller's clock (checked when a time-to-live is given).</summary>
    FromTheFuture,

    /// <summary>Authentic, but the plaintext is not UTF-8 text (only from <see cref="Fernet.DecryptString"/>).</summary>
    InvalidUtf8,
}

/// <summary>A rejected Fernet token. The message names the failure only: never the key, token or plaintext.</summary>
[GenerateSerializer, Alias("nexus.FernetTokenException")]
public sealed class FernetTokenException(FernetTokenFailure reason) : Exception(Describe(reason))
{
    [Id(0)]
    public FernetTokenFailure Reason { get; } = reason;

    private static string Describe(FernetTokenFailure reason) => reason switch
    {
        FernetTokenFailure.InvalidBase64 => "Fernet token is not url-safe base64",
        FernetTokenFailure.TooShort => "Fernet token is too short to hold a version, timestamp, IV, ciphertext and HMAC",
        FernetTokenFailure.BadVersion => "Fernet token does not start with version byte 0x80",
        FernetTokenFailure.InvalidMac =>
            "Fernet token HMAC does not match: it was made with another key, or altered",
        FernetTokenFailure.BadPayloadSize => "Fernet token ciphertext is not a multiple of the 16-byte AES block",
        FernetTokenFailure.BadPadding => "Fernet token decrypts to invalid PKCS7 padding",
        FernetTokenFailure.Expired => "Fernet token is older than the allowed time-to-live",
        FernetTokenFailure.FromTheFuture => "Fernet token timestamp is more than 60 s in the future",
        FernetTokenFailure.InvalidUtf8 => "Fernet token plaintext is not UTF-8 text",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, null),
    };
}

/// <summary>
/// A Fernet key text that cannot be used. The message says what is wrong and how to make a good key, and never
/// repeats the text itself (it may be a real secret with a typo).
/// </summary>
[GenerateSerializer, Alias("nexus.FernetKeyFormatException")]
public sealed class FernetKeyFormatException(string message, int? position = null) : Exception(message)
{
    /// <summary>1-based position of the bad item in a comma-separated key list, or null for a single key.</summary>
    [Id(0)]
    public int? Position { get; } = position;
}
