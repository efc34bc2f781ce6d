using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuroraNexus.WebFront;

namespace AuroraNexus.Tests.Api;

[Collection("api")]
public sealed class AuthAndValidationTests(ApiFixture fx)
{
    [Fact]
    public async Task Login_returns_a_bearer_token_carrying_tenant_and_role()
    {
        using var client = fx.App.Anonymous();
        var response = await client.PostAsJsonAsync("/api/auth/login", new { email = "ADMIN@tests.local", password = Infrastructure.TestApp.AdminPassword });
        var body = (await response.Content.ReadFromJsonAsync<JsonNode>())!;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Bearer", body["token_type"]!.GetValue<string>());
        Assert.True(body["expires_in"]!.GetValue<int>() > 0);
        var jwt = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(body["access_token"]!.GetValue<string>());
        Assert.Equal("default", jwt.GetClaim("tid").Value);
        Assert.Equal("admin", jwt.GetClaim("role").Value);
    }

    [Fact]
    public async Task Wrong_password_is_a_401_problem_that_explains_which_password_counts()
    {
        using var client = fx.App.Anonymous();
        var response = await client.PostAsJsonAsync("/api/auth/login", new { email = Infrastructure.TestApp.AdminEmail, password = "nope" });
        var problem = await Problem(response);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("invalid_credentials", problem["code"]!.GetValue<string>());
        Assert.Contains("ADMIN_DEFAULT_PASSWORD", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task Query_without_token_is_401_unauthorized()
    {
        using var client = fx.App.Anonymous();
        var response = await client.PostAsJsonAsync("/api/query", new { question = "AME ?", caller_app = "x" });
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("unauthorized", (await Problem(response))["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Query_with_a_forged_token_is_401_invalid_token()
    {
        using var client = fx.App.Anonymous();
        var forged = new TokenService(new string('x', 48)).Issue(Guid.NewGuid(), "default", "admin", "a@b.c", 0);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", forged);
        var response = await client.PostAsJsonAsync("/api/query", new { question = "AME ?", caller_app = "x" });
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("invalid_token", (await Problem(response))["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_signed_token_without_tenant_claim_is_401_invalid_token()
    {
        using var client = fx.App.Anonymous();
        var secret = File.ReadAllText(Path.Combine(fx.App.DataDirectory, "secrets", "jwt_secret")).Trim();
        var handler = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler();
        var token = handler.CreateToken(new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
        {
            Issuer = TokenService.Issuer,
            Audience = TokenService.Audience,
            Expires = DateTime.UtcNow.AddMinutes(5),
            SigningCredentials = new(new Microsoft.IdentityModel.Tokens.SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(secret)), "HS256"),
            Claims = new Dictionary<string, object> { ["sub"] = Guid.NewGuid().ToString(), ["role"] = "admin" },
        });
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var response = await client.PostAsJsonAsync("/api/query", new { question = "AME ?", caller_app = "x" });
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("invalid_token", (await Problem(response))["code"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("", "question_required")]
    [InlineData("   ", "question_required")]
    public async Task Empty_question_is_400_question_required(string question, string code)
    {
        var response = await fx.Admin.PostAsJsonAsync("/api/query", new { question, caller_app = "x" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(code, (await Problem(response))["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Question_over_4000_characters_is_400_question_too_long()
    {
        var response = await fx.Admin.PostAsJsonAsync("/api/query", new { question = new string('a', 4001), caller_app = "x" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("question_too_long", (await Problem(response))["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Query_without_caller_app_is_400_caller_app_required()
    {
        var response = await fx.Admin.PostAsJsonAsync("/api/query", new { question = "Qu'est-ce que l'AME ?" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("caller_app_required", (await Problem(response))["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Unknown_batch_and_document_are_404_with_codes()
    {
        var batch = await fx.Admin.GetAsync($"/api/ingest/batches/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, batch.StatusCode);
        Assert.Equal("batch_not_found", (await Problem(batch))["code"]!.GetValue<string>());
        var doc = await fx.Admin.GetAsync($"/api/documents/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, doc.StatusCode);
        Assert.Equal("document_not_found", (await Problem(doc))["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Health_lists_every_component_and_is_ready()
    {
        using var client = fx.App.Anonymous();
        var response = await client.GetAsync("/api/health");
        var body = (await response.Content.ReadFromJsonAsync<JsonNode>())!;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        foreach (var component in new[] { "postgres", "schema", "cluster", "vector_store", "object_store", "embeddings", "credentials_key" })
        {
            Assert.Equal("ok", body["components"]![component]!["status"]!.GetValue<string>());
        }
    }

    internal static async Task<JsonNode> Problem(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return (await response.Content.ReadFromJsonAsync<JsonNode>())!;
    }
}
