import FlexCLI

await Flexctl.main(arguments: nil)
