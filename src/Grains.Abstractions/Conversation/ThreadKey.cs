namespace AuroraNexus.Grains.Conversation;

/// <summary>
/// The one place where a thread grain key <c>{tenant}/{caller_app}/{user}/{thread_id}</c> is built and parsed.
/// Each part is percent-encoded so that a '/' inside a caller-chosen thread id cannot shift the parts.
/// </summary>
public readonly record struct ThreadKey(string TenantId, string CallerApp, string UserId, string ThreadId)
{
    public override string ToString() =>
        string.Join('/', Uri.EscapeDataString(TenantId), Uri.EscapeDataString(CallerApp),
            Uri.EscapeDataString(UserId), Uri.EscapeDataString(ThreadId));

    public static ThreadKey Parse(string key)
    {
        var parts = key.Split('/');
        if (parts.Length != 4 || parts.Any(string.IsNullOrEmpty))
        {
            throw new FormatException($"'{key}' is not a thread key (expected tenant/caller_app/user/thread_id).");
        }

        return new ThreadKey(Uri.UnescapeDataString(parts[0]), Uri.UnescapeDataString(parts[1]),
            Uri.UnescapeDataString(parts[2]), Uri.UnescapeDataString(parts[3]));
    }
}
