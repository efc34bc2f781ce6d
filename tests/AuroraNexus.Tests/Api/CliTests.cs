using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using AuroraNexus.Cli;
using AuroraNexus.Tests.Infrastructure;
using AuroraNexus.Tests.Ingestion;

namespace AuroraNexus.Tests.Api;

[Collection("api")]
public sealed class CliTests(ApiFixture fx) : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("nexus-cli-").FullName;

    [Fact]
    public async Task Nexus_ingest_uploads_a_folder_in_batches_shows_progress_and_ends_with_a_summary_table()
    {
        var unique = Guid.NewGuid().ToString("N");
        Write("aides/logement.txt", Encoding.UTF8.GetBytes($"L'aide personnalisée au logement dépend des revenus et du loyer. {unique}"));
        Write("aides/garde.md", Encoding.UTF8.GetBytes($"# Garde d'enfant\n\nLe complément de libre choix du mode de garde aide à payer une assistante maternelle. {unique}"));
        Write("guide.pdf", TestDocuments.Pdf("Guide des démarches", $"Les démarches se font en ligne sur le site officiel. {unique}"));
        Write("archive.pdf", TestDocuments.Zip());
        Write("vide.txt", []);
        Write(".cache/ignore.txt", Encoding.UTF8.GetBytes("un fichier caché n'est pas envoyé"));
        Write("gros.txt", Encoding.UTF8.GetBytes(new string('x', 200_000)));
        var output = new StringWriter();
        var progress = new StringWriter();

        var exit = await NexusCli.RunAsync(
            ["ingest", _folder, "--batch-size", "2", "--max-request-bytes", "100000", "--caller-app", "tests-cli"], output, progress, Environment());

        var text = output.ToString();
        Assert.Equal(1, exit);
        var rows = text.Split('\n').Select(l => l.TrimEnd()).ToList();
        Assert.Matches(@"^file\s+status\s+chunks\s+error$", rows.First(r => r.StartsWith("file", StringComparison.Ordinal)));
        Assert.Matches(@"^aides/logement\.txt\s+indexed\s+[1-9]\d*$", rows.Single(r => r.StartsWith("aides/logement.txt", StringComparison.Ordinal)));
        Assert.Matches(@"^aides/garde\.md\s+indexed\s+[1-9]\d*$", rows.Single(r => r.StartsWith("aides/garde.md", StringComparison.Ordinal)));
        Assert.Matches(@"^guide\.pdf\s+indexed\s+[1-9]\d*$", rows.Single(r => r.StartsWith("guide.pdf", StringComparison.Ordinal)));
        Assert.Matches(@"^archive\.pdf\s+failed\s+0\s+corrupt_document$", rows.Single(r => r.StartsWith("archive.pdf", StringComparison.Ordinal)));
        Assert.Matches(@"^vide\.txt\s+failed\s+0\s+empty_file$", rows.Single(r => r.StartsWith("vide.txt", StringComparison.Ordinal)));
        Assert.Matches(@"^gros\.txt\s+failed\s+0\s+too_large$", rows.Single(r => r.StartsWith("gros.txt", StringComparison.Ordinal)));
        Assert.DoesNotContain("ignore.txt", text);
        Assert.Contains("6 files: 3 failed, 3 indexed", text);
        // Three requests of at most two files (the large one is not sent); the bar reaches the end.
        Assert.Contains("[##############################] 6/6 files", progress.ToString());
        var documents = (await fx.Admin.GetFromJsonAsync<JsonArray>("/api/documents?caller_app=tests-cli"))!;
        Assert.Equal(5, documents.Count);
        Assert.Equal(3, documents.Select(d => d!["batch_id"]!.GetValue<string>()).Distinct().Count());

        // Again: everything is already there.
        File.Delete(Path.Combine(_folder, "archive.pdf"));
        File.Delete(Path.Combine(_folder, "vide.txt"));
        File.Delete(Path.Combine(_folder, "gros.txt"));
        output = new StringWriter();
        exit = await NexusCli.RunAsync(["ingest", _folder, "--caller-app", "tests-cli"], output, new StringWriter(), Environment());
        Assert.Equal(0, exit);
        Assert.Contains("3 files: 3 duplicate", output.ToString());
    }

    [Fact]
    public async Task A_rerun_names_the_document_each_duplicate_repeats_and_replace_indexes_them_as_new_versions()
    {
        var unique = Guid.NewGuid().ToString("N");
        Write("notes/permis.txt", Encoding.UTF8.GetBytes($"Le permis de conduire se renouvelle en ligne. {unique}"));
        Write("carte.txt", Encoding.UTF8.GetBytes($"La carte grise se demande sur le site de l'agence. {unique}"));
        var app = "tests-cli-" + unique[..8];
        Assert.Equal(0, await NexusCli.RunAsync(["ingest", _folder, "--caller-app", app], new StringWriter(), new StringWriter(), Environment()));
        var first = (await fx.Admin.GetFromJsonAsync<JsonArray>($"/api/documents?caller_app={app}"))!;
        var permis = first.Single(d => d!["filename"]!.GetValue<string>() == "permis.txt")!["id"]!.GetValue<string>();

        var output = new StringWriter();
        var exit = await NexusCli.RunAsync(["ingest", _folder, "--caller-app", app], output, new StringWriter(), Environment());

        var text = output.ToString();
        Assert.Equal(0, exit);
        Assert.Contains("2 files: 2 duplicate", text);
        Assert.Contains($"  notes/permis.txt: Same content as document {permis} (permis.txt) already in your tenant; it was not indexed twice.", text);
        Assert.Matches(@"  carte\.txt: Same content as document [0-9a-f-]{36} \(carte\.txt\)", text);
        Assert.Contains("2 duplicate(s) not indexed again: to index them as new versions (replacing the documents named above), run again with --replace.", text);

        output = new StringWriter();
        exit = await NexusCli.RunAsync(["ingest", _folder, "--caller-app", app, "--replace"], output, new StringWriter(), Environment());

        Assert.Equal(0, exit);
        Assert.Contains("2 files: 2 indexed", output.ToString());
        Assert.DoesNotContain("duplicate", output.ToString());
    }

    [Fact]
    public async Task Nexus_ingest_without_credentials_or_folder_says_what_is_missing_with_exit_code_2()
    {
        Write("a.txt", Encoding.UTF8.GetBytes("a"));
        var output = new StringWriter();
        Assert.Equal(2, await NexusCli.RunAsync(["ingest", _folder], output, new StringWriter(), name => name == "NEXUS_URL" ? fx.App.BaseAddress.ToString() : null));
        Assert.Contains("NEXUS_EMAIL", output.ToString());

        output = new StringWriter();
        Assert.Equal(2, await NexusCli.RunAsync(["ingest", Path.Combine(_folder, "absent")], output, new StringWriter(), Environment()));
        Assert.Contains("does not exist", output.ToString());

        output = new StringWriter();
        var wrong = new Dictionary<string, string?>
        {
            ["NEXUS_URL"] = fx.App.BaseAddress.ToString(), ["NEXUS_EMAIL"] = TestApp.AdminEmail, ["NEXUS_PASSWORD"] = "not-the-password",
        };
        Assert.Equal(2, await NexusCli.RunAsync(["ingest", _folder], output, new StringWriter(), n => wrong.GetValueOrDefault(n)));
        Assert.Contains("login as admin@tests.local refused (401", output.ToString());
    }

    private Func<string, string?> Environment()
    {
        var values = new Dictionary<string, string?>
        {
            ["NEXUS_URL"] = fx.App.BaseAddress.ToString(),
            ["NEXUS_EMAIL"] = TestApp.AdminEmail,
            ["NEXUS_PASSWORD"] = TestApp.AdminPassword,
        };
        return name => values.GetValueOrDefault(name);
    }

    private void Write(string relative, byte[] content)
    {
        var path = Path.Combine(_folder, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
