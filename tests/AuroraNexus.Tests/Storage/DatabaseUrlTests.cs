using AuroraNexus.Grains.Storage;
using Npgsql;

namespace AuroraNexus.Tests.Storage;

public sealed class DatabaseUrlTests
{
    [Fact]
    public void Url_form_becomes_npgsql_keywords_with_decoded_credentials_and_ssl_mode()
    {
        var result = new NpgsqlConnectionStringBuilder(
            DatabaseUrl.ToNpgsqlConnectionString("postgres://nexus%40corp:p%40ss%3Aw%2Frd@db.internal:6543/rag_prod?sslmode=require"));

        Assert.Equal("db.internal", result.Host);
        Assert.Equal(6543, result.Port);
        Assert.Equal("rag_prod", result.Database);
        Assert.Equal("nexus@corp", result.Username);
        Assert.Equal("p@ss:w/rd", result.Password);
        Assert.Equal(SslMode.Require, result.SslMode);
    }

    [Fact]
    public void Postgresql_scheme_without_port_defaults_to_5432()
    {
        var result = new NpgsqlConnectionStringBuilder(
            DatabaseUrl.ToNpgsqlConnectionString("postgresql://app:secret@postgres/nexus"));

        Assert.Equal("postgres", result.Host);
        Assert.Equal(5432, result.Port);
        Assert.Equal("nexus", result.Database);
        Assert.Equal("app", result.Username);
        Assert.Equal("secret", result.Password);
    }

    [Fact]
    public void Url_with_an_ipv6_host_keeps_the_address_without_brackets()
    {
        var result = new NpgsqlConnectionStringBuilder(DatabaseUrl.ToNpgsqlConnectionString("postgres://app:secret@[::1]:5433/nexus"));

        Assert.Equal("::1", result.Host);
        Assert.Equal(5433, result.Port);
    }

    [Fact]
    public void Url_query_accepts_libpq_and_npgsql_parameter_names()
    {
        var result = new NpgsqlConnectionStringBuilder(DatabaseUrl.ToNpgsqlConnectionString(
            "postgres://app:secret@localhost/nexus?application_name=silo-1&Search%20Path=orleans&sslmode=verify-full"));

        Assert.Equal("silo-1", result.ApplicationName);
        Assert.Equal("orleans", result.SearchPath);
        Assert.Equal(SslMode.VerifyFull, result.SslMode);
    }

    [Fact]
    public void Keyword_form_is_accepted_as_is()
    {
        var result = new NpgsqlConnectionStringBuilder(DatabaseUrl.ToNpgsqlConnectionString(
            "Host=127.0.0.1;Port=15432;Database=nexus;Username=nexus;Password=s3cret"));

        Assert.Equal("127.0.0.1", result.Host);
        Assert.Equal(15432, result.Port);
        Assert.Equal("nexus", result.Database);
        Assert.Equal("nexus", result.Username);
        Assert.Equal("s3cret", result.Password);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("mysql://root:hunter2secret@db/nexus")]
    [InlineData("postgres://nexus:hunter2secret@/nexus")]
    [InlineData("postgres://nexus:hunter2secret@db/nexus?sslmode=sometimes")]
    [InlineData("postgres://nexus:hunter2secret@db/nexus?bogus_option=1")]
    [InlineData("Host=db;Username=nexus;Password=hunter2secret;Bogus Keyword=1")]
    [InlineData("Username=nexus;Password=hunter2secret")]
    [InlineData("Host=db;Port=notaport;Password=hunter2secret")]
    [InlineData("hunter2secret")]
    public void Bad_value_throws_format_exception_naming_DATABASE_URL_and_both_forms_without_the_password(string value)
    {
        var error = Assert.Throws<FormatException>(() => DatabaseUrl.ToNpgsqlConnectionString(value));

        Assert.Contains("DATABASE_URL", error.Message, StringComparison.Ordinal);
        Assert.Contains("postgres://user:password@host:5432/database", error.Message, StringComparison.Ordinal);
        Assert.Contains("Host=host;Port=5432;Database=database;Username=user;Password=password", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2secret", error.Message, StringComparison.Ordinal);
    }
}
