using AuroraNexus.Grains.Hosting;

namespace AuroraNexus.Grains.Storage;

/// <summary>
/// Where uploaded files are kept until (and after) they are indexed. A missing object is a
/// <see cref="FileNotFoundException"/>; a store that cannot serve (unreachable, refused credentials, missing bucket)
/// is an <see cref="ObjectStoreUnavailableException"/>.
/// </summary>
public interface IObjectStore
{
    string Describe { get; }

    /// <summary>Stores the whole stream under <paramref name="key"/>, replacing what was there.</summary>
    Task PutAsync(string key, Stream content, CancellationToken cancellationToken);

    /// <summary>The whole object (never a range).</summary>
    Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken);

    /// <summary>Removes the object; removing a missing one is not an error.</summary>
    Task DeleteAsync(string key, CancellationToken cancellationToken);

    Task<ComponentProbe> ProbeAsync(CancellationToken cancellationToken);
}

/// <summary>The object store cannot serve requests; the message names the cause and the fix. Crosses grain calls.</summary>
[GenerateSerializer, Alias("nexus.ObjectStoreUnavailableException")]
public sealed class ObjectStoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner)
{
    public string Code => "object_store_unavailable";
}

/// <summary>Single-node object store: one file per object under a root folder.</summary>
public sealed class LocalObjectStore : IObjectStore
{
    private readonly string _root;

    public LocalObjectStore(string root)
    {
        _root = Path.GetFullPath(root);
        Directory.CreateDirectory(_root);
    }

    public string Describe => $"local folder {_root}";

    public async Task PutAsync(string key, Stream content, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + ".part";
        try
        {
            await using var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 81920, useAsync: true);
            await content.CopyToAsync(file, cancellationToken);
        }
        catch
        {
            // An upload cut off or refused half-way leaves nothing behind.
            File.Delete(temp);
            throw;
        }

        // Rename last so that a reader never sees a half-written object.
        File.Move(temp, path, overwrite: true);
    }

    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"object '{key}' is missing from the object store ({Describe})");
        }

        return Task.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true));
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        if (File.Exists(path))
        {
            File.Delete(path);
        }

        return Task.CompletedTask;
    }

    public Task<ComponentProbe> ProbeAsync(CancellationToken cancellationToken)
    {
        try
        {
            Directory.CreateDirectory(_root);
            var probe = Path.Combine(_root, ".probe");
            File.WriteAllText(probe, "ok");
            File.Delete(probe);
            return Task.FromResult(ComponentProbe.Ok(Describe));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Task.FromResult(ComponentProbe.Error(
                $"{Describe} is not writable ({ex.GetType().Name}); check the permissions of NEXUS_DATA_DIR, or set S3_ENDPOINT to use MinIO"));
        }
    }

    private string PathOf(string key)
    {
        if (key.Contains("..", StringComparison.Ordinal) || Path.IsPathRooted(key))
        {
            throw new ArgumentException($"invalid object key '{key}'", nameof(key));
        }

        return Path.Combine(_root, key.Replace('/', Path.DirectorySeparatorChar));
    }
}
