namespace AuroraNexus.Grains.Ingestion;

/// <summary>Stable codes a failed extraction reports; callers show them to users and match on them.</summary>
public static class ExtractionErrors
{
    public const string UnsupportedType = "unsupported_type";
    public const string EmptyFile = "empty_file";
    public const string InvalidEncoding = "invalid_encoding";
    public const string NoExtractableText = "no_extractable_text";
    public const string EncryptedDocument = "encrypted_document";
    public const string CorruptDocument = "corrupt_document";

    /// <summary>The file inflates to more content than is read from one document (a compressed part built to expand).</summary>
    public const string ContentTooLarge = "content_too_large";
}

/// <summary>Either the normalised text of a document or a stable error code with a message naming the cause and the fix.</summary>
public sealed record ExtractionResult(string? Text, string? ErrorCode, string? ErrorMessage)
{
    public bool Ok => ErrorCode is null;

    public static ExtractionResult Success(string text) => new(text, null, null);

    public static ExtractionResult Failure(string code, string message) => new(null, code, message);
}
