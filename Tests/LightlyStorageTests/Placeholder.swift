import Testing

@Test func placeholder_LightlyStorageTests() {}
