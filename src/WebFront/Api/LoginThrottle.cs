using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AuroraNexus.WebFront.Api;

/// <summary>
/// Slows password guessing: after <see cref="MaxFailures"/> wrong passwords for one email within <see cref="Window"/>
/// (at login, or as the current password of a password change), further attempts for it are refused until the window has
/// passed. Kept per WebFront process.
/// </summary>
public sealed class LoginThrottle(TimeProvider clock)
{
    public const int MaxFailures = 10;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, Failures> _failures = new(StringComparer.OrdinalIgnoreCase);

    /// <returns>How long the caller must wait, or null when it may try.</returns>
    public TimeSpan? RetryAfter(string email)
    {
        if (!_failures.TryGetValue(Key(email), out var f))
        {
            return null;
        }

        lock (f)
        {
            var left = f.Since + Window - clock.GetUtcNow();
            return f.Count >= MaxFailures && left > TimeSpan.Zero ? left : null;
        }
    }

    public void Failed(string email)
    {
        var now = clock.GetUtcNow();
        var f = _failures.GetOrAdd(Key(email), _ => new Failures { Since = now });
        lock (f)
        {
            if (now - f.Since > Window)
            {
                f.Since = now;
                f.Count = 0;
            }

            f.Count++;
        }

        if (_failures.Count > 10_000)
        {
            foreach (var (key, old) in _failures)
            {
                if (now - old.Since > Window)
                {
                    _failures.TryRemove(key, out _);
                }
            }
        }
    }

    public void Succeeded(string email) => _failures.TryRemove(Key(email), out _);

    /// <summary>The 429 for an email that must wait, with its Retry-After when answering an HTTP request.</summary>
    public static ProblemHttpResult TooManyAttempts(HttpContext? http, TimeSpan wait)
    {
        var seconds = Math.Ceiling(wait.TotalSeconds);
        http?.Response.Headers.RetryAfter = seconds.ToString("0", CultureInfo.InvariantCulture);
        return Problems.Create(429, "too_many_attempts",
            $"{MaxFailures} wrong passwords for this email in the last {Window.TotalMinutes:0} minutes; retry in {seconds:0} s.");
    }

    /// <summary>An address longer than any real one (RFC 5321: 254) is kept as its hash, so that failures cost bounded memory.</summary>
    private static string Key(string email)
    {
        var trimmed = email.Trim();
        return trimmed.Length <= 320
            ? trimmed
            : "#" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(trimmed)));
    }

    private sealed class Failures
    {
        public DateTimeOffset Since { get; set; }

        public int Count { get; set; }
    }
}
