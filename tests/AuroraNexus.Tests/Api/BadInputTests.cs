using System.Net;
using System.Net.Http.Json;
using System.Text;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.WebFront.Api;

namespace AuroraNexus.Tests.Api;

[Collection("api")]
public sealed class BadInputTests(ApiFixture fx)
{
    [Fact]
    public async Task A_NUL_character_in_the_question_is_400_invalid_characters_not_a_database_error()
    {
        var response = await fx.Admin.PostAsJsonAsync("/api/query", new { question = "AME \u0000 ?", caller_app = "x" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_characters", (await AuthAndValidationTests.Problem(response))["code"]!.GetValue<string>());

        response = await fx.Admin.PostAsJsonAsync("/api/query", new { question = "AME ?", caller_app = "x", thread_id = "a\u0000b" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("thread_id_invalid", (await AuthAndValidationTests.Problem(response))["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Malformed_json_is_a_400_bad_request_that_says_what_to_send()
    {
        using var content = new StringContent("{\"question\": \"unterminated", Encoding.UTF8, "application/json");
        var response = await fx.Admin.PostAsync("/api/query", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await AuthAndValidationTests.Problem(response);
        Assert.Equal("bad_request", problem["code"]!.GetValue<string>());
        Assert.Contains("JSON", problem["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("/api/documents?offset=abc", "offset", "integer", "a whole number")]
    [InlineData("/api/documents?limit=x&offset=0", "limit", "integer", "a whole number")]
    [InlineData("/api/admin/queries?from=yesterday", "from", "date-time", "ISO 8601")]
    [InlineData("/api/admin/queries?followup_resolved=maybe", "followup_resolved", "boolean", "true or false")]
    [InlineData("/api/documents?limit=", "limit", "integer", "is empty")]
    [InlineData("/api/admin/queries?from=", "from", "date-time", "is empty")]
    [InlineData("/api/documents?limit=1&limit=2", "limit", "integer", "given 2 times")]
    [InlineData("/api/documents?offset=99999999999", "offset", "integer", "out of range")]
    public async Task A_query_parameter_of_the_wrong_type_is_400_invalid_query_parameter_naming_it(
        string url, string parameter, string expected, string wording)
    {
        var response = await fx.Admin.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await AuthAndValidationTests.Problem(response);
        Assert.Equal("invalid_query_parameter", problem["code"]!.GetValue<string>());
        Assert.Equal(parameter, problem["parameter"]!.GetValue<string>());
        Assert.Equal(expected, problem["expected"]!.GetValue<string>());
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains($"'{parameter}'", detail);
        Assert.Contains(wording, detail);
        Assert.DoesNotContain("body", detail);
    }

    [Theory]
    [InlineData("/api/documents?limit=0")]
    [InlineData("/api/documents?limit=-1")]
    [InlineData("/api/documents?limit=10001")]
    public async Task A_page_size_out_of_its_range_is_refused_not_clamped(string url)
    {
        var response = await fx.Admin.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await AuthAndValidationTests.Problem(response);
        Assert.Equal("invalid_paging", problem["code"]!.GetValue<string>());
        Assert.Contains("1 to 10000", problem["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("/%09/evil.example")]
    [InlineData("/%0d%0aSet-Cookie:x=1")]
    [InlineData("/%00")]
    [InlineData("//evil.example")]
    public async Task A_return_url_that_is_not_a_plain_local_path_goes_home_instead_of_failing(string returnUrl)
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = fx.App.BaseAddress };

        var response = await client.GetAsync($"/ui/culture?culture=fr&return_url={returnUrl}");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/", response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task Well_typed_query_parameters_still_answer()
    {
        Assert.Equal(HttpStatusCode.OK, (await fx.Admin.GetAsync("/api/documents?offset=0&limit=5")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fx.Admin.GetAsync("/api/admin/queries?from=2024-01-01T00:00:00Z&followup_resolved=false")).StatusCode);
    }

    [Fact]
    public async Task A_multipart_body_without_boundary_is_400_malformed_multipart()
    {
        using var content = new StringContent("garbage", Encoding.UTF8);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("multipart/form-data");
        var response = await fx.Admin.PostAsync("/api/ingest", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("malformed_multipart", (await AuthAndValidationTests.Problem(response))["code"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("../../etc/passwd.txt", "passwd.txt")]
    [InlineData("dir\\sub\\note.md", "note.md")]
    [InlineData("év\n\rnt\u202e.txt", "évnt.txt")]
    [InlineData("   ", "unnamed")]
    public void Uploaded_file_names_keep_only_a_safe_base_name(string raw, string expected) =>
        Assert.Equal(expected, IngestApi.SafeFileName(raw));

    [Fact]
    public void A_very_long_file_name_is_cut_to_255_characters_keeping_its_extension()
    {
        var name = IngestApi.SafeFileName(new string('a', 600) + ".txt");
        Assert.Equal(255, name.Length);
        Assert.EndsWith(".txt", name);
    }

    [Fact]
    public void A_second_single_node_instance_on_the_same_data_directory_is_refused_by_name()
    {
        var dir = Path.Combine(Path.GetTempPath(), "nexus-lock-" + Guid.NewGuid().ToString("N"));
        using (InstanceLock.Acquire(dir))
        {
            var error = Assert.Throws<NexusConfigurationException>(() => InstanceLock.Acquire(dir));
            Assert.Equal("NEXUS_DATA_DIR", error.Variable);
            Assert.Contains(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
        }

        using (InstanceLock.Acquire(dir))
        {
        }

        Directory.Delete(dir, recursive: true);
    }
}
