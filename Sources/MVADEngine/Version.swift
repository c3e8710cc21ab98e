// The engine's version, reported by the CLI and written into the files it produces.

public enum MVADVersion {
    public static let current = "0.1.0"
}
