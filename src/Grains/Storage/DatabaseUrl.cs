using System.Globalization;
using Npgsql;

namespace AuroraNexus.Grains.Storage;

/// <summary>
/// Turns the value of <c>DATABASE_URL</c> into an Npgsql connection string. Both the URL form that
/// compose files write (<c>postgres://user:pass@host:5432/db?sslmode=disable</c>) and the Npgsql
/// keyword form (<c>Host=…;Username=…</c>) are accepted.
/// </summary>
public static class DatabaseUrl
{
    private const string AcceptedForms =
        "Accepted forms: postgres://user:password@host:5432/database?sslmode=disable " +
        "(postgresql:// also works; percent-encode special characters in the user name and password) " +
        "or Host=host;Port=5432;Database=database;Username=user;Password=password.";

    private static readonly Dictionary<string, string> LibpqParameters = new(StringComparer.OrdinalIgnoreCase)
    {
        ["sslmode"] = "SSL Mode",
        ["sslrootcert"] = "Root Certificate",
        ["sslcert"] = "SSL Certificate",
        ["sslkey"] = "SSL Key",
        ["sslpassword"] = "SSL Password",
        ["application_name"] = "Application Name",
        ["connect_timeout"] = "Timeout",
        ["target_session_attrs"] = "Target Session Attributes",
        ["options"] = "Options",
    };

    private static readonly Dictionary<string, string> SslModes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["disable"] = "Disable",
        ["allow"] = "Allow",
        ["prefer"] = "Prefer",
        ["require"] = "Require",
        ["verify-ca"] = "VerifyCA",
        ["verify-full"] = "VerifyFull",
    };

    public static string ToNpgsqlConnectionString(string value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw Invalid("the value is empty");
        }

        var trimmed = value.Trim();
        var schemeEnd = trimmed.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd > 0 && !trimmed[..schemeEnd].Contains('=') && !trimmed[..schemeEnd].Contains(';'))
        {
            return FromUrl(trimmed, trimmed[..schemeEnd]);
        }

        if (trimmed.Contains('='))
        {
            return FromKeywords(trimmed);
        }

        throw Invalid("it is neither a postgres:// URL nor a list of Npgsql Key=Value pairs");
    }

    private static string FromUrl(string value, string scheme)
    {
        if (!scheme.Equals("postgres", StringComparison.OrdinalIgnoreCase) &&
            !scheme.Equals("postgresql", StringComparison.OrdinalIgnoreCase))
        {
            throw Invalid($"the URL scheme '{scheme}' is not postgres:// or postgresql://");
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri))
        {
            throw Invalid("the URL cannot be parsed");
        }

        var host = uri.IdnHost;
        if (string.IsNullOrEmpty(host))
        {
            throw Invalid("the URL has no host");
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = host,
            Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port,
        };

        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':');
            var user = colon < 0 ? uri.UserInfo : uri.UserInfo[..colon];
            builder.Username = Uri.UnescapeDataString(user);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            }
        }

        var database = Uri.UnescapeDataString(uri.AbsolutePath.Trim('/'));
        if (database.Contains('/'))
        {
            throw Invalid("the URL path must be a single database name");
        }

        if (database.Length > 0)
        {
            builder.Database = database;
        }

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=');
            var key = Uri.UnescapeDataString((equals < 0 ? pair : pair[..equals]).Replace('+', ' '));
            var raw = equals < 0 ? "" : Uri.UnescapeDataString(pair[(equals + 1)..].Replace('+', ' '));
            SetQueryParameter(builder, key, raw);
        }

        return builder.ConnectionString;
    }

    private static void SetQueryParameter(NpgsqlConnectionStringBuilder builder, string key, string value)
    {
        if (key.Equals("sslmode", StringComparison.OrdinalIgnoreCase))
        {
            if (!SslModes.TryGetValue(value, out var mode))
            {
                throw Invalid($"sslmode '{value}' is not one of {string.Join(", ", SslModes.Keys)}");
            }

            value = mode;
        }

        var keyword = LibpqParameters.GetValueOrDefault(key, key);
        try
        {
            builder[keyword] = value;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException)
        {
            throw Invalid($"the URL parameter '{key}' is not supported or has an invalid value");
        }
    }

    private static string FromKeywords(string value)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(value);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException)
        {
            throw Invalid(KeywordProblem(value));
        }

        if (string.IsNullOrWhiteSpace(builder.Host))
        {
            throw Invalid("the connection string has no Host");
        }

        return builder.ConnectionString;
    }

    // The parser's own message can quote the offending value, so the keyword is named instead.
    private static string KeywordProblem(string value)
    {
        var probe = new NpgsqlConnectionStringBuilder();
        foreach (var part in value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = part.IndexOf('=');
            if (equals <= 0)
            {
                return "a part of it is not a Key=Value pair";
            }

            var key = part[..equals].Trim();
            try
            {
                probe[key] = part[(equals + 1)..].Trim();
            }
            catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException)
            {
                return string.Create(CultureInfo.InvariantCulture, $"the keyword '{key}' is unknown or has an invalid value");
            }
        }

        return "it is not a valid Npgsql connection string";
    }

    private static FormatException Invalid(string reason) =>
        new($"DATABASE_URL is not a valid PostgreSQL connection string: {reason}. {AcceptedForms}");
}
