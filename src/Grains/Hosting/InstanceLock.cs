using System.Globalization;

namespace AuroraNexus.Grains.Hosting;

/// <summary>
/// One single-node instance per data directory: a second one would share the private PostgreSQL and the reminders
/// of the first while running a cluster of its own, and lose its database when the first stops.
/// </summary>
public sealed class InstanceLock : IDisposable
{
    private readonly FileStream _file;

    private InstanceLock(FileStream file) => _file = file;

    public static InstanceLock Acquire(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, "instance.lock");
        var pidFile = Path.Combine(dataDirectory, "instance.pid");
        try
        {
            // FileShare.None is an exclusive lock the kernel drops when the process dies, however it dies.
            var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            File.WriteAllText(pidFile, Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            return new InstanceLock(file);
        }
        catch (IOException)
        {
            var holder = File.Exists(pidFile) ? File.ReadAllText(pidFile).Trim() : "?";
            throw new NexusConfigurationException("NEXUS_DATA_DIR",
                $"another single-node instance (pid {holder}) already runs on {dataDirectory}; stop it, or give this one its own NEXUS_DATA_DIR and HOST_API_PORT");
        }
    }

    public void Dispose() => _file.Dispose();
}
