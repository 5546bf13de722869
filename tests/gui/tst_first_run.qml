import QtQuick
import QtTest
import Custodia

// TestCase itself is invisible: the screens go on this visible stage.
Item {
    id: stage
    width: 480
    height: 1000

TestCase {
    id: testCase
    name: "FirstRun"
    when: windowShown

    Component {
        id: pageComponent
        FirstRunPage {}
    }

    function makePage(vault) {
        const page = createTemporaryObject(pageComponent, stage,
                                           { vault: vault, width: 480, height: 1000 });
        verify(page !== null, "FirstRunPage was created");
        waitForRendering(page);
        return page;
    }

    function fill(page, name, passphrase, confirmation) {
        findChild(page, "investigatorField").text = name;
        findChild(page, "passphraseField").text = passphrase;
        findChild(page, "confirmationField").text = confirmation;
    }

    function test_strength_meter_follows_the_passphrase() {
        const page = makePage(support.newVault());
        const field = findChild(page, "passphraseField");
        const label = findChild(page, "strengthLabel");
        compare(label.text, "");
        field.forceActiveFocus();
        keyClick("a"); keyClick("b"); keyClick("c");
        compare(field.text, "abc", "typing reaches the field");
        compare(label.text, "Too weak");
        field.text = "correct horse battery staple";
        compare(label.text, "Strong");
        compare(findChild(page, "strengthMeter").value, 4);
    }

    function test_mismatched_passphrases_are_refused_and_forgotten() {
        const vault = support.newVault();
        const page = makePage(vault);
        fill(page, "Investigator A", "a long passphrase one", "a long passphrase two");
        mouseClick(findChild(page, "createButton"));
        compare(findChild(page, "errorLabel").text, "The two passphrases are not the same.");
        compare(vault.state, VaultModel.NoVault);
        compare(findChild(page, "passphraseField").text, "", "the field was cleared");
        compare(findChild(page, "confirmationField").text, "");
        compare(support.vaultFiles(vault).length, 0, "nothing was written");
    }

    function test_short_passphrase_is_refused() {
        const vault = support.newVault();
        const page = makePage(vault);
        fill(page, "Investigator A", "short", "short");
        mouseClick(findChild(page, "createButton"));
        verify(findChild(page, "errorLabel").text.indexOf("10 characters") >= 0,
               findChild(page, "errorLabel").text);
        compare(vault.state, VaultModel.NoVault);
    }

    function test_name_is_required() {
        const vault = support.newVault();
        const page = makePage(vault);
        fill(page, "   ", "a long enough passphrase", "a long enough passphrase");
        mouseClick(findChild(page, "createButton"));
        verify(findChild(page, "errorLabel").text !== "");
        compare(vault.state, VaultModel.NoVault);
    }

    function test_create_shows_the_recovery_key_once() {
        const vault = support.newVault();
        const page = makePage(vault);
        fill(page, "Investigator A", "a long enough passphrase", "a long enough passphrase");
        mouseClick(findChild(page, "createButton"));
        compare(findChild(page, "passphraseField").text, "", "cleared at once");
        tryCompare(vault, "state", VaultModel.Unlocked, 20000);
        compare(vault.busy, false);
        compare(vault.investigator, "Investigator A");
        verify(support.vaultFiles(vault).indexOf("vault.header") >= 0, "the vault exists");

        const key = findChild(page, "recoveryKeyLabel");
        verify(page.showingRecoveryKey);
        verify(key.text.length > 20, "a recovery key is shown: " + key.text.length);
        compare(key.text, vault.recoveryKey);
        verify(!support.vaultContainsText(vault, key.text), "the recovery key is not stored");

        mouseClick(findChild(page, "writtenDownButton"));
        compare(vault.recoveryKey, "", "forgotten once acknowledged");
        compare(key.text, "");
        verify(!page.showingRecoveryKey);
        compare(vault.state, VaultModel.Unlocked);
    }
}
}
