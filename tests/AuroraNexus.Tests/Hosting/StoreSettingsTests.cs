using AuroraNexus.Grains.Hosting;
using Microsoft.Extensions.Configuration;

namespace AuroraNexus.Tests.Hosting;

public sealed class StoreSettingsTests
{
    private static IConfiguration Config(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, v.Value))).Build();

    private static readonly (string, string?)[] GoodS3 =
    [
        ("S3_ENDPOINT", "http://minio:9000"), ("MINIO_ROOT_USER", "nexus"), ("MINIO_ROOT_PASSWORD", "8f2c1e9a7b3d4c5e6f708192"),
    ];

    [Fact]
    public void Without_S3_ENDPOINT_or_QDRANT_URL_the_single_node_stores_are_kept()
    {
        Assert.Null(StoreSettings.Load(Config(("MINIO_ROOT_USER", "nexus"))).S3);
        Assert.Null(StoreSettings.Load(Config(("QDRANT_URL", " "))).QdrantUrl);
    }

    [Fact]
    public void S3_settings_take_the_documented_defaults()
    {
        var s3 = StoreSettings.Load(Config(GoodS3)).S3!;

        Assert.Equal(new Uri("http://minio:9000"), s3.Endpoint);
        Assert.Equal(("nexus-uploads", "nexus-artifacts"), (s3.UploadsBucket, s3.ArtifactsBucket));
        Assert.DoesNotContain("8f2c1e9a", s3.ToString());
    }

    [Theory]
    [InlineData("S3_ENDPOINT", "minio:9000", "S3_ENDPOINT")]
    [InlineData("S3_ENDPOINT", "http://minio:9000/bucket", "S3_ENDPOINT")]
    [InlineData("MINIO_ROOT_USER", null, "MINIO_ROOT_USER")]
    [InlineData("MINIO_ROOT_USER", "ab", "MINIO_ROOT_USER")]
    [InlineData("MINIO_ROOT_PASSWORD", null, "MINIO_ROOT_PASSWORD")]
    [InlineData("MINIO_ROOT_PASSWORD", "short", "MINIO_ROOT_PASSWORD")]
    [InlineData("MINIO_ROOT_PASSWORD", "change-this-minio-password", "MINIO_ROOT_PASSWORD")]
    [InlineData("S3_BUCKET_UPLOADS", "Nexus_Uploads", "S3_BUCKET_UPLOADS")]
    [InlineData("S3_BUCKET_ARTIFACTS", "a..b", "S3_BUCKET_ARTIFACTS")]
    public void A_bad_S3_setting_stops_start_up_naming_the_variable(string key, string? value, string variable)
    {
        var values = GoodS3.Where(v => v.Item1 != key).Append((key, value)).ToArray();

        var error = Assert.Throws<NexusConfigurationException>(() => StoreSettings.Load(Config(values)).S3);

        Assert.Equal(variable, error.Variable);
    }

    [Theory]
    [InlineData("qdrant:6334")]
    [InlineData("grpc://qdrant:6334")]
    [InlineData("http://qdrant:6334/collections")]
    public void A_QDRANT_URL_that_is_not_an_address_stops_start_up(string value)
    {
        var error = Assert.Throws<NexusConfigurationException>(() => StoreSettings.Load(Config(("QDRANT_URL", value))).QdrantUrl);

        Assert.Equal("QDRANT_URL", error.Variable);
        Assert.Contains("6334", error.Message);
    }
}
