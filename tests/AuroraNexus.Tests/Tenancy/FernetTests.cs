using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AuroraNexus.Grains.Tenancy;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace AuroraNexus.Tests.Tenancy;

public sealed class FernetTests
{
    private static readonly string VectorDir = Path.Combine(AppContext.BaseDirectory, "Data", "fernet");

    private static JsonElement Load(string file) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(VectorDir, file))).RootElement;

    private static DateTimeOffset Now(JsonElement v) =>
        DateTimeOffset.Parse(v.GetProperty("now").GetString()!, CultureInfo.InvariantCulture);

    private static byte[] FromBase64Url(string text) =>
        Convert.FromBase64String(text.Replace('-', '+').Replace('_', '/'));

    private static string ToBase64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).Replace('+', '-').Replace('/', '_');

    public static TheoryData<int> GenerateVectors() => [.. Enumerable.Range(0, Load("generate.json").GetArrayLength())];

    public static TheoryData<int> VerifyVectors() => [.. Enumerable.Range(0, Load("verify.json").GetArrayLength())];

    public static TheoryData<string> InvalidVectors() =>
        [.. Load("invalid.json").EnumerateArray().Select(v => v.GetProperty("desc").GetString()!)];

    public static TheoryData<int> PythonVectors() =>
        [.. Enumerable.Range(0, Load("python-interop.json").GetProperty("vectors").GetArrayLength())];

    [Theory]
    [MemberData(nameof(GenerateVectors))]
    public void Generate_vector_gives_the_exact_token(int index)
    {
        var v = Load("generate.json")[index];
        var key = FernetKey.Parse(v.GetProperty("secret").GetString()!);
        var iv = v.GetProperty("iv").EnumerateArray().Select(b => b.GetByte()).ToArray();

        var token = Fernet.Encrypt(key, v.GetProperty("src").GetString()!, Now(v), iv);

        Assert.Equal(v.GetProperty("token").GetString(), token);
    }

    [Theory]
    [MemberData(nameof(VerifyVectors))]
    public void Verify_vector_decrypts_to_its_source(int index)
    {
        var v = Load("verify.json")[index];
        var key = FernetKey.Parse(v.GetProperty("secret").GetString()!);
        var ttl = TimeSpan.FromSeconds(v.GetProperty("ttl_sec").GetInt32());

        var text = Fernet.DecryptString(key, v.GetProperty("token").GetString()!, ttl, Now(v));

        Assert.Equal(v.GetProperty("src").GetString(), text);
    }

    [Theory]
    [MemberData(nameof(InvalidVectors))]
    public void Invalid_vector_is_rejected_for_its_reason(string desc)
    {
        var v = Load("invalid.json").EnumerateArray().Single(e => e.GetProperty("desc").GetString() == desc);
        var key = FernetKey.Parse(v.GetProperty("secret").GetString()!);
        var ttl = TimeSpan.FromSeconds(v.GetProperty("ttl_sec").GetInt32());
        var expected = desc switch
        {
            "incorrect mac" => FernetTokenFailure.InvalidMac,
            "too short" => FernetTokenFailure.TooShort,
            "invalid base64" => FernetTokenFailure.InvalidBase64,
            "payload size not multiple of block size" => FernetTokenFailure.BadPayloadSize,
            "payload padding error" => FernetTokenFailure.BadPadding,
            "far-future TS (unacceptable clock skew)" => FernetTokenFailure.FromTheFuture,
            "expired TTL" => FernetTokenFailure.Expired,
            "incorrect IV (causes padding error)" => FernetTokenFailure.BadPadding,
            _ => throw new InvalidOperationException($"no expected reason for invalid vector '{desc}'"),
        };

        var e = Assert.Throws<FernetTokenException>(() =>
            Fernet.Decrypt(key, v.GetProperty("token").GetString()!, ttl, Now(v)));

        Assert.Equal(expected, e.Reason);
    }

    [Fact]
    public void Vector_files_hold_what_the_tests_expect()
    {
        Assert.Equal(8, Load("invalid.json").GetArrayLength());
        Assert.NotEqual(0, Load("generate.json").GetArrayLength());
        Assert.NotEqual(0, Load("verify.json").GetArrayLength());
        Assert.Equal(3, Load("python-interop.json").GetProperty("vectors").GetArrayLength());
    }

    [Fact]
    public void Authentic_token_with_another_version_byte_is_rejected_as_bad_version()
    {
        var v = Load("verify.json")[0];
        var secret = v.GetProperty("secret").GetString()!;
        var data = FromBase64Url(v.GetProperty("token").GetString()!);
        data[0] = 0x81;
        HMACSHA256.HashData(FromBase64Url(secret)[..16], data.AsSpan(0, data.Length - 32), data.AsSpan(data.Length - 32));

        var e = Assert.Throws<FernetTokenException>(() => Fernet.Decrypt(FernetKey.Parse(secret), ToBase64Url(data)));

        Assert.Equal(FernetTokenFailure.BadVersion, e.Reason);
    }

    [Theory]
    [InlineData("", FernetTokenFailure.TooShort)]
    [InlineData("gA==", FernetTokenFailure.TooShort)]
    [InlineData("gAAAAAAdwJ6w AAECAwQFBgcICQoLDA0ODy021cpGVWKZ", FernetTokenFailure.InvalidBase64)]
    [InlineData("gAAAAAAdwJ6w+AECAwQFBgcICQoLDA0ODy021cpGVWKZ", FernetTokenFailure.InvalidBase64)]
    [InlineData("gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ===", FernetTokenFailure.InvalidBase64)]
    [InlineData("eyJhbGciOiJIUzI1NiJ9", FernetTokenFailure.BadVersion)]
    public void Malformed_token_is_rejected_for_its_reason(string token, FernetTokenFailure expected)
    {
        var e = Assert.Throws<FernetTokenException>(() => Fernet.Decrypt(FernetKey.Generate(), token));

        Assert.Equal(expected, e.Reason);
    }

    [Fact]
    public void Token_without_base64_padding_is_read()
    {
        var v = Load("verify.json")[0];
        var token = v.GetProperty("token").GetString()!.TrimEnd('=');

        var text = Fernet.DecryptString(FernetKey.Parse(v.GetProperty("secret").GetString()!), token);

        Assert.Equal(v.GetProperty("src").GetString(), text);
    }

    [Fact]
    public void Without_a_ttl_age_and_clock_skew_are_not_checked_as_in_python()
    {
        var v = Load("invalid.json").EnumerateArray().Single(e => e.GetProperty("desc").GetString()!.StartsWith("far-future", StringComparison.Ordinal));
        var key = FernetKey.Parse(v.GetProperty("secret").GetString()!);

        // The spec's far-future token is authentic and holds an empty plaintext; Python's decrypt(token) returns b"".
        Assert.Equal("", Fernet.DecryptString(key, v.GetProperty("token").GetString()!, ttl: null, Now(v)));
        Assert.Equal("", Fernet.DecryptString(key, v.GetProperty("token").GetString()!, ttl: null, Now(v).AddYears(30)));
    }

    [Fact]
    public void Ttl_and_clock_skew_limits_are_inclusive()
    {
        var key = FernetKey.Generate();
        var at = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var token = Fernet.Encrypt(key, "x", at);
        var ttl = TimeSpan.FromMinutes(5);

        Assert.Equal("x", Fernet.DecryptString(key, token, ttl, at.Add(ttl)));
        Assert.Equal(FernetTokenFailure.Expired,
            Assert.Throws<FernetTokenException>(() => Fernet.Decrypt(key, token, ttl, at.Add(ttl).AddSeconds(1))).Reason);
        Assert.Equal("x", Fernet.DecryptString(key, token, ttl, at - Fernet.MaxClockSkew));
        Assert.Equal(FernetTokenFailure.FromTheFuture,
            Assert.Throws<FernetTokenException>(() => Fernet.Decrypt(key, token, ttl, at - Fernet.MaxClockSkew - TimeSpan.FromSeconds(1))).Reason);
    }

    [Theory]
    [MemberData(nameof(PythonVectors))]
    public void Python_token_decrypts_with_its_key_and_fails_cleanly_with_another(int index)
    {
        var file = Load("python-interop.json");
        var v = file.GetProperty("vectors")[index];
        var token = v.GetProperty("token").GetString()!;
        var plaintext = v.GetProperty("plaintext").GetString()!;

        Assert.Equal(plaintext, Fernet.DecryptString(FernetKey.Parse(v.GetProperty("key").GetString()!), token));

        var wrongKeyText = file.GetProperty("wrong_key").GetString()!;
        var e = Assert.Throws<FernetTokenException>(() => Fernet.DecryptString(FernetKey.Parse(wrongKeyText), token));
        Assert.Equal(FernetTokenFailure.InvalidMac, e.Reason);
        Assert.DoesNotContain(wrongKeyText, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(token, e.Message, StringComparison.Ordinal);
        if (plaintext.Length > 0)
        {
            Assert.DoesNotContain(plaintext, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Python_interop_covers_empty_and_non_ascii_text()
    {
        var texts = Load("python-interop.json").GetProperty("vectors").EnumerateArray()
            .Select(v => v.GetProperty("plaintext").GetString()!).ToArray();

        Assert.Contains("", texts);
        Assert.Contains(texts, t => t.Contains('é') && t.Contains("🔑", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("")]
    [InlineData("sk-or-v1-abc")]
    [InlineData("clé 🔑 exactly sixteen+ bytes....")]
    public void Random_iv_round_trip(string text)
    {
        var key = FernetKey.Generate();

        var first = Fernet.Encrypt(key, text);
        var second = Fernet.Encrypt(key, text);

        Assert.NotEqual(first, second);
        Assert.Equal(text, Fernet.DecryptString(key, first));
        Assert.Equal(text, Fernet.DecryptString(key, second, TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public void Bytes_round_trip_for_every_length_around_the_block_size()
    {
        var key = FernetKey.Generate();
        for (var n = 0; n <= 48; n++)
        {
            var bytes = RandomNumberGenerator.GetBytes(n);
            var token = Fernet.Encrypt(key, bytes);
            Assert.Equal(bytes, Fernet.Decrypt(key, token));
            Assert.Equal((1 + 8 + 16 + (n / 16 + 1) * 16 + 32), FromBase64Url(token).Length);
        }
    }

    [Fact]
    public void Authentic_binary_payload_is_not_passed_off_as_text()
    {
        var key = FernetKey.Generate();
        var token = Fernet.Encrypt(key, new byte[] { 0xff, 0xfe, 0x00 });

        var e = Assert.Throws<FernetTokenException>(() => Fernet.DecryptString(key, token));

        Assert.Equal(FernetTokenFailure.InvalidUtf8, e.Reason);
    }

    [Fact]
    public void Iv_of_the_wrong_size_is_refused()
    {
        Assert.Throws<ArgumentException>(() => Fernet.Encrypt(FernetKey.Generate(), "x", iv: new byte[8]));
    }

    [Fact]
    public void Token_exception_keeps_its_reason_across_a_grain_call()
    {
        using var services = new ServiceCollection().AddSerializer().BuildServiceProvider();
        var original = new FernetTokenException(FernetTokenFailure.InvalidMac);

        var copy = services.GetRequiredService<DeepCopier>().Copy<Exception>(original);

        var e = Assert.IsType<FernetTokenException>(copy);
        Assert.Equal(FernetTokenFailure.InvalidMac, e.Reason);
        Assert.Equal(original.Message, e.Message);
    }

    [Fact]
    public void Generated_key_encodes_parses_back_and_has_a_sha256_fingerprint()
    {
        var key = FernetKey.Generate();
        var text = key.Encode();

        var parsed = FernetKey.Parse(text);
        var unpadded = FernetKey.Parse("  " + text.TrimEnd('=') + "\n");

        Assert.Equal(44, text.Length);
        Assert.EndsWith("=", text, StringComparison.Ordinal);
        Assert.Equal(key.Fingerprint, parsed.Fingerprint);
        Assert.Equal(key.Fingerprint, unpadded.Fingerprint);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(FromBase64Url(text)))[..12], key.Fingerprint);
        Assert.Matches("^[0-9a-f]{12}$", key.Fingerprint);
        Assert.NotEqual(key.Fingerprint, FernetKey.Generate().Fingerprint);
    }

    [Fact]
    public void Key_to_string_shows_the_fingerprint_only()
    {
        const string text = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
        var key = FernetKey.Parse(text);

        Assert.Equal($"FernetKey({key.Fingerprint})", key.ToString());
        Assert.DoesNotContain(text.TrimEnd('='), key.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(text[..8], $"{key}", StringComparison.Ordinal);
    }

    private static byte[] Bytes(int count) => [.. Enumerable.Range(1, count).Select(i => (byte)(i * 37))];

    public static TheoryData<string, string> BadKeyTexts() => new()
    {
        { "", "empty" },
        { "   ", "empty" },
        { Convert.ToHexStringLower(Bytes(32)), "looks like hex (64 hex digits)" },
        { ToBase64Url(Bytes(16)), "16 bytes instead of 32" },
        { ToBase64Url(Bytes(33)), "33 bytes instead of 32" },
        { "change-me", "not url-safe base64" },
        { "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=!", "not url-safe base64" },
        { Convert.ToBase64String(Enumerable.Repeat((byte)0xfb, 32).ToArray()), "'+' or '/'" },
    };

    [Theory]
    [MemberData(nameof(BadKeyTexts))]
    public void Bad_key_text_is_refused_with_the_problem_named(string text, string problem)
    {
        var e = Assert.Throws<FernetKeyFormatException>(() => FernetKey.Parse(text));

        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.Contains("Fernet.generate_key()", e.Message, StringComparison.Ordinal);
        Assert.Contains("openssl rand -base64 32", e.Message, StringComparison.Ordinal);
        Assert.Null(e.Position);
        if (text.Trim().Length > 0)
        {
            Assert.DoesNotContain(text.Trim(), e.Message, StringComparison.Ordinal);
        }

        Assert.False(FernetKey.TryParse(text, out var key, out var error));
        Assert.Null(key);
        Assert.Equal(e.Message, error);
    }

    [Fact]
    public void Key_ring_encrypts_with_the_first_key_and_decrypts_with_all()
    {
        var current = FernetKey.Generate();
        var old = FernetKey.Generate();
        var ring = FernetKeyRing.Parse($" {current.Encode()} ,\t{old.Encode()}\n");

        Assert.Equal([current.Fingerprint, old.Fingerprint], ring.Fingerprints);
        Assert.Equal(current.Fingerprint, ring.PrimaryFingerprint);
        Assert.True(ring.Contains(old.Fingerprint));
        Assert.False(ring.Contains(FernetKey.Generate().Fingerprint));

        var (token, fingerprint) = ring.Encrypt("sk-or-v1-new");
        Assert.Equal(current.Fingerprint, fingerprint);
        Assert.Equal("sk-or-v1-new", Fernet.DecryptString(current, token));
        Assert.True(ring.TryDecrypt(token, fingerprint, out var text, out var used));
        Assert.Equal(("sk-or-v1-new", current.Fingerprint), (text, used));

        var oldToken = Fernet.Encrypt(old, "sk-or-v1-old");
        Assert.True(ring.TryDecrypt(oldToken, null, out text, out used));
        Assert.Equal(("sk-or-v1-old", old.Fingerprint), (text, used));
        Assert.True(ring.TryDecrypt(oldToken, current.Fingerprint, out text, out used));
        Assert.Equal(("sk-or-v1-old", old.Fingerprint), (text, used));
        Assert.True(ring.TryDecrypt(oldToken, "000000000000", out text, out used));
        Assert.Equal(("sk-or-v1-old", old.Fingerprint), (text, used));
    }

    [Fact]
    public void Key_ring_tries_the_hinted_key_first_then_list_order()
    {
        var keys = new[] { FernetKey.Generate(), FernetKey.Generate(), FernetKey.Generate() };
        var ring = new FernetKeyRing(keys);
        string[] Order(string? hint) => [.. ring.DecryptionOrder(hint).Select(k => k.Fingerprint)];

        Assert.Equal([keys[0].Fingerprint, keys[1].Fingerprint, keys[2].Fingerprint], Order(null));
        Assert.Equal([keys[2].Fingerprint, keys[0].Fingerprint, keys[1].Fingerprint], Order(keys[2].Fingerprint));
        Assert.Equal([keys[1].Fingerprint, keys[0].Fingerprint, keys[2].Fingerprint], Order(keys[1].Fingerprint));
        Assert.Equal([keys[0].Fingerprint, keys[1].Fingerprint, keys[2].Fingerprint], Order("ffffffffffff"));
    }

    [Fact]
    public void Key_ring_reports_failure_without_throwing()
    {
        var ring = new FernetKeyRing([FernetKey.Generate(), FernetKey.Generate()]);

        Assert.False(ring.TryDecrypt(Fernet.Encrypt(FernetKey.Generate(), "secret"), null, out var text, out var used));
        Assert.Null(text);
        Assert.Null(used);
        Assert.False(ring.TryDecrypt("%%% not a token", ring.PrimaryFingerprint, out text, out used));
        Assert.Null(text);
        Assert.Null(used);
    }

    [Fact]
    public void Key_ring_reads_python_tokens_with_a_rotated_in_key_first()
    {
        var file = Load("python-interop.json");
        var v = file.GetProperty("vectors")[0];
        var ring = FernetKeyRing.Parse($"{file.GetProperty("wrong_key").GetString()},{v.GetProperty("key").GetString()}");

        Assert.True(ring.TryDecrypt(v.GetProperty("token").GetString()!, null, out var text, out var used));
        Assert.Equal(v.GetProperty("plaintext").GetString(), text);
        Assert.Equal(ring.Fingerprints[1], used);
    }

    public static TheoryData<string, int?, string> BadKeyLists()
    {
        const string good = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
        const string other = "cR_hy59AxL-Wwb-NwlJtRyGmp-8p2voF0erFYgYqfgg=";
        return new()
        {
            { "", null, "no key is set" },
            { " \n", null, "no key is set" },
            { "change-me", 1, "the key is not url-safe base64" },
            { $"{good}, change-me", 2, "item 2 of 2: the key is not url-safe base64" },
            { $"{good},{other},{new string('a', 64)}", 3, "item 3 of 3: the key looks like hex" },
            { $"{good},,{other}", 2, "item 2 of 3: the key is empty" },
            { $"{good},", 2, "item 2 of 2: the key is empty" },
            { $"{good}, {other}, {good}", 3, "item 3 of 3: the same key as item 1" },
        };
    }

    [Theory]
    [MemberData(nameof(BadKeyLists))]
    public void Bad_key_list_names_the_bad_item(string value, int? position, string problem)
    {
        var e = Assert.Throws<FernetKeyFormatException>(() => FernetKeyRing.Parse(value));

        Assert.Equal(position, e.Position);
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        foreach (var item in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.DoesNotContain(item, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Key_ring_to_string_shows_fingerprints_only()
    {
        var keys = new[] { FernetKey.Generate(), FernetKey.Generate() };
        var ring = FernetKeyRing.Parse(string.Join(",", keys.Select(k => k.Encode())));

        var shown = ring.ToString();

        Assert.Equal($"FernetKeyRing(2 keys, primary {keys[0].Fingerprint})", shown);
        foreach (var key in keys)
        {
            Assert.DoesNotContain(key.Encode()[..16], shown, StringComparison.Ordinal);
        }
    }
}
