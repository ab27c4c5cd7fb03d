namespace Plumbline.Core;

/// <summary>Marker for the pure domain assembly.</summary>
public static class CoreAssembly;
